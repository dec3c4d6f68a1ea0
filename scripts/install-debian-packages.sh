#!/usr/bin/env bash
# Installs the Debian packages Flip's tests use. Idempotent: safe to run again and again.
# Node.js 20 and npm come with the machine; everything else the tests start is listed here.
set -euo pipefail
packages=(
  procps   # ps / pgrep: tests assert that stopped replicas leave no orphans
  curl     # the example smoke-test scripts
  prometheus  # the prometheus monitor source is tested against a real Prometheus (started by the test)
  postgresql  # expand/contract is tested against a real PostgreSQL (a cluster the test creates with initdb)
  chromium    # the dashboard's browser test (test/dashboard.test.ts) drives it with playwright-core
  nginx    # the nginx router is tested against a real nginx (started by the test in its own folder)
  haproxy  # the haproxy router is tested against a real HAProxy, switched over its runtime API
  wrk      # the load generator of the benchmarks (bench/)
  caddy    # the caddy router is tested against a real Caddy, switched over its admin API
  bind9    # the dns router is tested against a real BIND (named), updated with TSIG-signed RFC 2136 updates
  bind9-dnsutils  # dig, which those tests use to check BIND's answers (and nsupdate)
)
# The Kubernetes tests drive their API double with the real kubectl. The machine image has one;
# Debian's kubernetes-client is the fallback, installed only when kubectl is missing.
if ! command -v kubectl >/dev/null 2>&1; then packages+=(kubernetes-client); fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "debian packages: ${packages[*]} installed"
