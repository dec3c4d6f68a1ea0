// End to end in a real browser: Debian's Chromium, driven by playwright-core, against a real
// `flip serve` (with a control token) running the example app. A person deploys from the page,
// watches the live slot change, and rolls back with one click. Requires `npm run build` (npm test
// builds first) and the `chromium` package (scripts/install-debian-packages.sh).
// FLIP_SCREENSHOT=1 also writes docs/dashboard.png during a deploy, with traffic flowing.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium, type Browser, type Page } from "playwright-core";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { killQuietly, makeWorkspace, pidsMatching, repoRoot, runCli, ServeProcess, Traffic, type Workspace } from "./helpers/flip-process.js";

const CHROMIUM = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find((path) => existsSync(path));
const TOKEN = "dashboard-e2e-token";
const SCREENSHOT = process.env.FLIP_SCREENSHOT === "1";

if (!existsSync(join(repoRoot, "dist/src/dashboard/public/vendor/uPlot.iife.min.js"))) {
  throw new Error("test/dashboard.test.ts needs the built dashboard: run `npm run build` first (npm test does).");
}
if (!CHROMIUM) throw new Error("test/dashboard.test.ts needs Chromium: run `bash scripts/install-debian-packages.sh` (Debian's chromium package).");

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // keep cleaning up the rest
    }
  }
});

async function startFlip(extra?: string): Promise<{ ws: Workspace; serve: ServeProcess }> {
  const ws = await makeWorkspace({
    // A long window, ended by clicking Promote: the test waits for nothing but its own clicks.
    monitor: '{ duration: 5m, interval: 1s, minRequests: 5, rules: ["errorRate < 5%", "p99 < 800ms"] }',
    ...(extra === undefined ? {} : { extra }),
  });
  // The dashboard must ask for the token: configure one, given to flip serve through its environment.
  writeFileSync(ws.config, readFileSync(ws.config, "utf8").replace(/^control: \{ listen: ("[^"]+") \}$/m, 'control: { listen: $1, token: "${FLIP_TOKEN}" }'));
  expect(readFileSync(ws.config, "utf8")).toContain("FLIP_TOKEN");
  cleanups.push(async () => {
    for (const pid of await pidsMatching(`--workspace ${ws.dir}`)) killQuietly(pid);
    ws.cleanup();
  });
  return { ws, serve: await serve(ws) };
}

async function serve(ws: Workspace): Promise<ServeProcess> {
  const flip = new ServeProcess(ws.config, { FLIP_TOKEN: TOKEN });
  cleanups.push(async () => {
    await flip.stop("SIGTERM");
  });
  await flip.ready(ws.control);
  return flip;
}

/** launch() gives every run a fresh profile in a temporary folder of its own, removed on close. */
async function openBrowser(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  cleanups.push(() => browser.close());
  return browser;
}

async function deployFromPage(page: Page, version: string, expectedMessage: RegExp, token?: string): Promise<void> {
  await page.fill("#deploy-version", version);
  await page.click("#deploy-button");
  if (token !== undefined) {
    // The plan is the first call that needs the token: the page asks for it once.
    await page.locator("#token-dialog").waitFor({ state: "visible" });
    await page.fill("#token-input", token);
    await page.click("#token-ok");
  }
  await page.locator("#confirm-dialog").waitFor({ state: "visible" });
  await expect.poll(() => page.textContent("#confirm-message")).toMatch(expectedMessage);
  await page.click("#confirm-button");
}

/** Clicks Promote once the deployment is monitoring, and waits until it has succeeded. */
async function promoteFromPage(page: Page, version: string): Promise<void> {
  await page.locator("#promote-button:enabled").waitFor({ timeout: 15_000 });
  await page.click("#promote-button");
  await expect.poll(() => page.textContent("#confirm-message")).toContain(`The monitor window of ${version} ends now`);
  await page.click("#confirm-button");
  await page.locator('#deployment-body[data-outcome="succeeded"]').waitFor({ timeout: 10_000 });
}

async function liveSlot(ws: Workspace): Promise<string | null> {
  const result = await runCli(["status", "--json", "-c", ws.config], { env: { FLIP_TOKEN: TOKEN } });
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { live: string | null }).live;
}

async function post(ws: Workspace, path: string, body: unknown, token?: string): Promise<number> {
  const response = await request(`${ws.control}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  await response.body.dump();
  return response.statusCode;
}

describe("the dashboard in Chromium", () => {
  it(
    "asks for the token, deploys from the page, shows the live slot change, and rolls back in one click",
    async () => {
      const [{ ws, serve: firstServe }, browser] = await Promise.all([startFlip(), openBrowser()]);
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      await page.goto(`${ws.control}/`);
      await expect.poll(() => page.textContent("#headline")).toContain("No slot is live yet");
      await page.locator('#connection[data-state="live"]').waitFor();

      await deployFromPage(page, "v1", /v1 will start on blue and be checked/, TOKEN);
      await page.locator('#now[data-live-slot="blue"]').waitFor({ timeout: 15_000 });
      await promoteFromPage(page, "v1");
      // What the page learnt, it learnt from the event stream too, not only by polling.
      expect(Number(await page.getAttribute("#connection", "data-events"))).toBeGreaterThan(3);

      const traffic = new Traffic(ws.proxy, 2);
      const slow = SCREENSHOT ? new Traffic(`${ws.proxy}/slow?ms=35`, 1) : undefined;
      cleanups.push(async () => {
        await traffic.stop();
        await slow?.stop();
      });
      if (SCREENSHOT) await sleep(20_000); // some blue history on the charts before the switch

      // The token is kept for the tab: no second prompt.
      await deployFromPage(page, "v2", /traffic will move from blue \(v1\) to green \(v2\)/);
      await page.locator('#now[data-live-slot="green"]').waitFor({ timeout: 15_000 });
      await expect.poll(() => page.textContent("#headline")).toMatch(/v2 is live on green/);
      if (SCREENSHOT) {
        await sleep(25_000);
        await page.screenshot({ path: join(repoRoot, "docs/dashboard.png"), fullPage: true });
      }
      await promoteFromPage(page, "v2");

      await page.locator("#rollback-button:enabled").waitFor();
      expect(await page.textContent("#rollback-button")).toBe("Roll back to blue (v1)…");
      await page.click("#rollback-button");
      expect(await page.textContent("#confirm-message")).toBe("Traffic will move from green (v2) to blue (v1), at once.");
      const clickedAt = Date.now();
      await page.click("#confirm-button");
      await page.locator('#now[data-live-slot="blue"]').waitFor({ timeout: 2_000 });
      expect(Date.now() - clickedAt).toBeLessThan(2_000);
      expect(await liveSlot(ws)).toBe("blue");
      await page.locator("#history-body tr", { hasText: "rollback" }).waitFor({ timeout: 5_000 });

      // The charts' data: every switch is marked.
      const series = (await (await fetch(`${ws.control}/api/traffic?seconds=900`)).json()) as { available: boolean; switches: { to: string }[]; times: number[] };
      expect(series.available).toBe(true);
      expect(series.switches.map((mark) => mark.to)).toEqual(["blue", "green", "blue"]);
      expect(series.times.length).toBeGreaterThan(0);

      // Without the token nothing changes; with it, the API answers.
      expect(await post(ws, "/api/rollback", {})).toBe(401);
      expect(await post(ws, "/api/rollback", {}, "not-the-token")).toBe(401);
      expect(await post(ws, "/api/deployments/plan", { version: "v3" }, TOKEN)).toBe(200);
      const after = (await (await fetch(`${ws.control}/api/status`)).json()) as { live: string; deployment?: unknown };
      expect(after.live).toBe("blue");
      expect(after.deployment).toBeUndefined(); // the plan changed nothing
      await traffic.stop();
      expect(traffic.failures).toBe(0);

      // The standby (green, v2) can be retired from the page; the rollback then says it is not instant.
      await page.locator("#retire-button:enabled").waitFor();
      expect(await page.textContent("#retire-button")).toBe("Retire green (v2)…");
      await page.click("#retire-button");
      await expect.poll(() => page.textContent("#confirm-message")).toMatch(/^green \(v2\) stops now .* not instant\.$/);
      await page.click("#confirm-button");
      await expect.poll(() => page.textContent("#rollback-why"), { timeout: 5_000 }).toMatch(/^Not instant: green was retired/);
      expect(await page.isDisabled("#retire-button")).toBe(true);
      const retired = (await (await fetch(`${ws.control}/api/status`)).json()) as { slots: { green: { state: string } } };
      expect(retired.slots.green.state).toBe("retired");

      // flip serve restarts: the page notices, reconnects by itself, and shows the same truth.
      await firstServe.stop("SIGTERM");
      await page.locator('#connection[data-state="offline"]').waitFor({ timeout: 5_000 });
      await serve(ws);
      await page.locator('#connection[data-state="live"][data-opens="2"]').waitFor({ timeout: 10_000 });
      await expect.poll(() => page.textContent("#headline")).toMatch(/v1 is live on blue/);
      expect(await page.isHidden("#banner")).toBe(true);
      expect(pageErrors).toEqual([]);
    },
    SCREENSHOT ? 120_000 : 45_000,
  );

  it(
    "approves a deployment that waits for a person, and the traffic moves",
    async () => {
      const [{ ws }, browser] = await Promise.all([startFlip("approval: manual"), openBrowser()]);
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      await page.goto(`${ws.control}/`);
      await page.locator('#connection[data-state="live"]').waitFor();

      await deployFromPage(page, "v1", /v1 will start on blue and be checked/, TOKEN);
      await page.locator("#promote-button:enabled").waitFor({ timeout: 15_000 });
      expect(await page.textContent("#promote-button")).toBe("Approve the switch…");
      expect(await page.textContent("#promote-why")).toMatch(/v1 passed its checks on blue .* approving moves the traffic/);
      expect(await liveSlot(ws)).toBeNull(); // nothing moved before a person said so
      await page.click("#promote-button");
      await expect.poll(() => page.textContent("#confirm-message")).toMatch(/^v1 on blue .* passed its checks\. Approving switches the traffic to it/);
      await page.click("#confirm-button");
      await page.locator('#now[data-live-slot="blue"]').waitFor({ timeout: 15_000 });
      expect(await liveSlot(ws)).toBe("blue");
      // Now monitoring: the same button ends the window early.
      await expect.poll(() => page.textContent("#promote-button"), { timeout: 10_000 }).toBe("Promote…");
      // The approver is in the audit log: the page's actor, from the browser's address.
      const audit = (await (await fetch(`${ws.control}/api/audit`)).json()) as { kind: string; actor: string }[];
      expect(audit.find((event) => event.kind === "deployment.approved")?.actor).toBe("dashboard@127.0.0.1");
      expect(pageErrors).toEqual([]);
    },
    45_000,
  );
});
