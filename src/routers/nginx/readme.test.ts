// The README's nginx section must stay true: its flip.yaml loads, and its nginx.conf snippet, with
// the file Flip writes for that flip.yaml, passes the real `nginx -t`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parseConfigText } from "../../config/load.js";
import { findServerBinary } from "../testing/local-server.js";
import { readmeBlocks } from "../testing/readme-blocks.js";
import { FLIP_LOG_FORMAT } from "../access-log.js";
import { renderUpstreamFile } from "./upstream-file.js";

it("README: the nginx flip.yaml loads, and nginx -t accepts the nginx.conf lines with Flip's file", async () => {
  const blocks = await readmeBlocks("nginx");
  const config = parseConfigText(blocks.yaml as string, "/srv/shop/flip.yaml", { env: {} });
  if (config.router.kind !== "nginx") throw new Error(`expected the nginx router, got ${config.router.kind}`);
  expect(config.router).toMatchObject({ file: "/etc/nginx/flip/shop.conf", upstream: "shop", probeUrl: "http://127.0.0.1/health", slotHeader: "x-flip-slot", accessLog: "/var/log/nginx/flip-shop.log" });

  const dir = mkdtempSync(join(tmpdir(), "flip-nginx-readme-"));
  try {
    const file = join(dir, "shop.conf");
    writeFileSync(file, renderUpstreamFile({ app: "shop", upstream: "shop", template: config.router.template, slot: "green", servers: ["127.0.0.1:3101", "127.0.0.1:3102"] }));
    const accessLog = join(dir, "flip-shop.log");
    const snippet = (blocks.nginx as string).replace(config.router.file, file).replace(config.router.accessLog as string, accessLog);
    expect(snippet).toContain(`include ${file};`);
    expect(snippet).toContain(FLIP_LOG_FORMAT); // the format the router's reader parses
    expect(snippet).toContain(`access_log ${accessLog} flip;`);
    writeFileSync(join(dir, "nginx.conf"), `events {}\n${snippet}`);
    // -t parses everything and binds nothing; exits non-zero (and throws here) on any error.
    const output = execFileSync(findServerBinary("nginx"), ["-p", dir, "-e", join(dir, "error.log"), "-c", join(dir, "nginx.conf"), "-t"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(output).toBe("");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
