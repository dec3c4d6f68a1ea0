import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checksFrom, processGone, targetOf } from "./testing/helpers.js";
import { OutputTail } from "./command.js";
import { runChecks } from "./run-checks.js";

const signal = new AbortController().signal;
const target = { ...targetOf([]), url: "http://127.0.0.1:4567", version: "v7", slot: "blue" as const };
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "flip-command-check-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function waitUntil(condition: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

describe("command checks", () => {
  it("passes on exit 0, templating {url} {version} {slot} and running in cwd", async () => {
    const outcome = await runChecks(checksFrom([{ name: "smoke", command: "echo {url} {version} {slot}; pwd" }]), target, { signal, cwd: dir });
    expect(outcome.ok).toBe(true);
    expect(outcome.results[0]).toMatchObject({ name: "smoke", kind: "command", ok: true, attempts: 1 });
    expect(outcome.results[0]?.message).toBe("`echo http://127.0.0.1:4567 v7 blue; pwd` exited 0");
    expect(outcome.results[0]?.output).toBe(`http://127.0.0.1:4567 v7 blue\n${dir}`);
    expect(outcome.results[0]?.replica).toBeUndefined();
  });

  it("fails on a non-zero exit, keeping stdout and stderr", async () => {
    const outcome = await runChecks(checksFrom([{ name: "smoke", command: "echo checking; echo 'login page broken' >&2; exit 3" }]), target, { signal });
    expect(outcome.ok).toBe(false);
    expect(outcome.results[0]?.message).toContain("exited with code 3: login page broken");
    expect(outcome.results[0]?.output).toBe("checking\nlogin page broken");
  });

  it("gives the command FLIP_URL, FLIP_VERSION, FLIP_SLOT on top of the given environment", async () => {
    const outcome = await runChecks(checksFrom([{ name: "env", command: 'echo "$FLIP_URL|$FLIP_VERSION|$FLIP_SLOT|$EXTRA"' }]), target, {
      signal,
      env: { ...process.env, EXTRA: "from-options" },
    });
    expect(outcome.results[0]?.output).toBe("http://127.0.0.1:4567|v7|blue|from-options");
  });

  it("kills a command that hangs, with everything it started, and fails with a timeout", async () => {
    const pidFile = join(dir, "sleeper.pid");
    const startedAt = Date.now();
    const outcome = await runChecks(
      checksFrom([{ name: "hang", command: `echo started; sleep 30 & echo $! > ${pidFile}; wait`, timeout: "300ms" }]),
      target,
      { signal },
    );
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(outcome.results[0]?.ok).toBe(false);
    expect(outcome.results[0]?.message).toMatch(/ timed out after 300ms$/);
    expect(outcome.results[0]?.output).toBe("started");
    const sleeperPid = Number(readFileSync(pidFile, "utf8"));
    expect(sleeperPid).toBeGreaterThan(0);
    expect(await waitUntil(() => processGone(sleeperPid))).toBe(true);
  });

  it("kills a command that ignores SIGTERM with SIGKILL", async () => {
    const pidFile = join(dir, "stubborn.pid");
    const outcome = await runChecks(
      checksFrom([{ name: "stubborn", command: `trap '' TERM; echo $$ > ${pidFile}; while :; do sleep 0.05; done`, timeout: "200ms" }]),
      target,
      { signal },
    );
    expect(outcome.results[0]?.message).toContain("timed out after 200ms");
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(await waitUntil(() => processGone(pid))).toBe(true);
  });

  it("does not wait on a background job that keeps the output open after the shell exits", async () => {
    const pidFile = join(dir, "daemon.pid");
    const startedAt = Date.now();
    const outcome = await runChecks(checksFrom([{ name: "bg", command: `sleep 5 & echo $! > ${pidFile}; echo done` }]), target, { signal });
    expect(outcome.results[0]).toMatchObject({ ok: true, output: "done" });
    expect(Date.now() - startedAt).toBeLessThan(2000);
    process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
  });

  it("fails with a clear message when the command cannot start", async () => {
    const outcome = await runChecks(checksFrom([{ name: "smoke", command: "true" }]), target, { signal, cwd: join(dir, "missing") });
    expect(outcome.results[0]?.ok).toBe(false);
    expect(outcome.results[0]?.message).toContain("could not start");
    expect(outcome.results[0]?.message).toContain(join(dir, "missing"));
  });
});

describe("OutputTail", () => {
  it("keeps only the last bytes and says it trimmed", () => {
    const tail = new OutputTail(10);
    for (let i = 0; i < 10; i++) tail.push(Buffer.from(`line${i}\n`));
    expect(tail.text()).toBe("[...earlier output trimmed]\nne8\nline9");
  });
});
