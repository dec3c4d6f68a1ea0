// The control API's guard rails across processes: the real `flip` CLI and a real `flip serve` on
// loopback. Requires `npm run build` (npm test builds first).
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { killQuietly, makeWorkspace, pidsMatching, runCli, ServeProcess } from "./helpers/flip-process.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const TOKEN = "e2e-token-0123456789";

describe("control API guard rails", () => {
  it("flip serve and flip validate refuse a control.listen beyond loopback without a token, saying what to do", async () => {
    const ws = await makeWorkspace();
    cleanups.push(() => ws.cleanup());
    // Port 1 on the wildcard: nothing may be bound, the config must be refused before that.
    writeFileSync(ws.config, readFileSync(ws.config, "utf8").replace(/control: \{ listen: "127\.0\.0\.1:\d+" \}/, 'control: { listen: "0.0.0.0:1" }'));
    for (const command of ["serve", "validate"]) {
      const result = await runCli([command, "-c", ws.config], { timeoutMs: 20_000 });
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expect(result.stderr).toContain("control.listen 0.0.0.0:1 can be reached from other machines, so the control API needs a token");
      expect(result.stderr).toContain('add `token: "${FLIP_TOKEN}"` under control and export FLIP_TOKEN');
    }
  });

  it("with a token: the CLI acts, the audit log names who and from where, and wrong tokens are limited and logged", async () => {
    const ws = await makeWorkspace();
    writeFileSync(ws.config, readFileSync(ws.config, "utf8").replace(/control: \{ listen: ("127\.0\.0\.1:\d+") \}/, 'control: { listen: $1, token: "${FLIP_TOKEN}" }'));
    const serve = new ServeProcess(ws.config, { FLIP_TOKEN: TOKEN });
    cleanups.push(async () => {
      await serve.stop("SIGTERM");
      for (const pid of await pidsMatching(`--workspace ${ws.dir}`)) killQuietly(pid);
      ws.cleanup();
    });
    await serve.ready(ws.control);

    const deployed = await runCli(["deploy", "v1", "--json", "-c", ws.config], { env: { FLIP_TOKEN: TOKEN } });
    expect(deployed.code, deployed.stderr).toBe(0);
    const summary = JSON.parse(deployed.stdout.trimEnd().split("\n").at(-1) as string) as { type: string; exitCode: number; deployment: { id: string; actor: string; slot: string } };
    expect(summary).toMatchObject({ type: "summary", exitCode: 0 });
    expect(summary.deployment.actor).toMatch(/^cli:.+@127\.0\.0\.1$/);

    const audit = await getJson<{ actor: string; kind: string; deploymentId: string }[]>(`${ws.control}/api/audit`);
    expect(audit.find((event) => event.kind === "deployment.started" && event.deploymentId === summary.deployment.id)?.actor).toBe(summary.deployment.actor);

    // Without the token nothing changes; reads stay open on loopback.
    const refused = await request(`${ws.control}/api/rollback`, { method: "POST" });
    expect(refused.statusCode).toBe(401);
    await refused.body.dump();
    const guesses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const response = await request(`${ws.control}/api/rollback`, { method: "POST", headers: { authorization: `Bearer guess-${i}` } });
      guesses.push(response.statusCode);
      if (response.statusCode === 429) expect(Number(response.headers["retry-after"])).toBeGreaterThan(0);
      await response.body.dump();
    }
    expect(guesses).toEqual([...Array<number>(10).fill(401), 429]);
    expect((await getJson<{ live: string }>(`${ws.control}/api/status`)).live).toBe(summary.deployment.slot);
    expect(serve.output).toContain("refused a wrong token from 127.0.0.1");
    expect(serve.output).not.toContain("guess-3");
    expect(serve.output).not.toContain(TOKEN);

    const openapi = await getJson<{ openapi: string; paths: Record<string, unknown> }>(`${ws.control}/api/openapi.json`);
    expect(openapi.openapi).toBe("3.1.0");
    expect(openapi.paths).toHaveProperty("/api/rollback");
  });
});

async function getJson<T>(url: string): Promise<T> {
  const response = await request(url);
  expect(response.statusCode).toBe(200);
  return (await response.body.json()) as T;
}
