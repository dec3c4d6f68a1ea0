#!/usr/bin/env bash
# Installs the Debian packages Flip's tests use. Idempotent: safe to run again and again.
# Node.js 20 and npm come with the machine; everything else the tests start is listed here.
set -euo pipefail
packages=(
  procps   # ps / pgrep: tests assert that stopped replicas leave no orphans
  curl     # the example smoke-test scripts
)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "debian packages: ${packages[*]} installed"
