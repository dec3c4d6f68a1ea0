// The access log reader: nginx's flip format and Caddy's JSON lines, which slot a line counts for,
// and a file that grows, is cut mid-line, and is rotated under the reader.
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { quantileMs } from "../core/histogram.js";
import type { Slot } from "../core/slots.js";
import { AccessLogCounters, parseCaddyLine, parseNginxLine, slotOfNginxLine } from "./access-log.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const SERVERS: Record<Slot, string[]> = { blue: ["127.0.0.1:3001", "127.0.0.1:3002 max_fails=3"], green: ["127.0.0.1:3101"] };

describe("nginx access log lines", () => {
  it("reads status, time, slot header and the last upstream tried", () => {
    expect(parseNginxLine("1795820000.123 200 0.004 green 127.0.0.1:3101")).toEqual({ status: 200, latencyMs: 4, slotHeader: "green", upstream: "127.0.0.1:3101" });
    expect(parseNginxLine("1795820000.123 502 1.250 - 127.0.0.1:3001, 127.0.0.1:3002")).toEqual({ status: 502, latencyMs: 1250, slotHeader: undefined, upstream: "127.0.0.1:3002" });
    expect(parseNginxLine("1795820000.123 404 0.000 - -")).toEqual({ status: 404, latencyMs: 0, slotHeader: undefined, upstream: undefined });
    expect(parseNginxLine('127.0.0.1 - - [27/Nov/2026:22:00:00 +0000] "GET / HTTP/1.1" 200 3')).toBeUndefined(); // nginx's combined format
    expect(parseNginxLine("")).toBeUndefined();
  });

  it("counts a line for the slot its header names, else the slot whose servers include its upstream", () => {
    const serversOf = (slot: "blue" | "green") => SERVERS[slot];
    expect(slotOfNginxLine({ status: 200, latencyMs: 1, slotHeader: "Green", upstream: "127.0.0.1:3001" }, serversOf)).toBe("green");
    expect(slotOfNginxLine({ status: 200, latencyMs: 1, slotHeader: undefined, upstream: "127.0.0.1:3002" }, serversOf)).toBe("blue");
    expect(slotOfNginxLine({ status: 200, latencyMs: 1, slotHeader: "v2", upstream: "10.9.9.9:80" }, serversOf)).toBeUndefined();
    expect(slotOfNginxLine({ status: 503, latencyMs: 0, slotHeader: undefined, upstream: undefined }, serversOf)).toBeUndefined();
  });
});

describe("Caddy access log lines", () => {
  it("reads status, duration and the slot header Caddy sent (any case), from Caddy 2.6's JSON", () => {
    // As Caddy 2.6.2 wrote it, request details shortened.
    const line = '{"level":"info","ts":1795821136.05,"logger":"http.log.access.flip","msg":"handled request","request":{"method":"GET","uri":"/"},"user_id":"","duration":0.001974304,"size":413,"status":200,"resp_headers":{"Content-Length":["413"],"X-Flip-Upstream":["127.0.0.1:8122"]}}';
    expect(parseCaddyLine(line, "x-flip-upstream")).toEqual({ status: 200, latencyMs: expect.closeTo(1.974, 3) as unknown, header: "127.0.0.1:8122" });
    expect(parseCaddyLine(line, "x-flip-slot")).toMatchObject({ status: 200, header: undefined });
    expect(parseCaddyLine('{"level":"info","msg":"serving initial configuration"}', "x-flip-slot")).toBeUndefined();
    expect(parseCaddyLine("not json", "x-flip-slot")).toBeUndefined();
  });
});

describe("AccessLogCounters", () => {
  it("counts only what is written after start, keeps a cut line for later, and follows rotation", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flip-access-log-"));
    dirs.push(dir);
    const path = join(dir, "access.log");
    writeFileSync(path, "1795820000.000 500 0.001 blue 127.0.0.1:3001\n"); // before Flip watched: not counted
    const counters = new AccessLogCounters(path, parseNginxLine, (line) => slotOfNginxLine(line, (slot) => SERVERS[slot]));
    await counters.start();

    appendFileSync(path, "1795820001.000 200 0.010 blue 127.0.0.1:3001\n1795820001.100 503 0.020 - 127.0.0.1:3101\n1795820001.200 200 0.0");
    expect(await counters.snapshot("blue", 1)).toMatchObject({ at: 1, requests: 1, errors: 0 });
    expect(await counters.snapshot("green", 2)).toMatchObject({ requests: 1, errors: 1 });
    appendFileSync(path, "30 blue 127.0.0.1:3002\n"); // the end of the cut line
    const blue = await counters.snapshot("blue", 3);
    expect(blue).toMatchObject({ requests: 2, errors: 0 });
    expect(quantileMs(blue.latencyCounts, 0.99)).toBeCloseTo(30, -1);

    renameSync(path, `${path}.1`); // logrotate: a new file, lines from its start
    writeFileSync(path, "1795820002.000 500 0.005 blue 127.0.0.1:3001\n");
    expect(await counters.snapshot("blue", 4)).toMatchObject({ requests: 3, errors: 1 });
  });

  it("counts every line of a file that appears after start (Caddy creates it with its first line)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flip-access-log-"));
    dirs.push(dir);
    const path = join(dir, "later.log");
    const counters = new AccessLogCounters(path, parseNginxLine, () => "green");
    expect(await counters.start()).toBe(false);
    expect(await counters.snapshot("green", 1)).toMatchObject({ requests: 0 });
    writeFileSync(path, "1795820003.000 200 0.002 green 127.0.0.1:3101\n");
    expect(await counters.snapshot("green", 2)).toMatchObject({ requests: 1, errors: 0 });
  });
});
