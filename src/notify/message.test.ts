import { describe, expect, it } from "vitest";
import type { DeploymentDetail } from "../engine/views.js";
import { bodyFor, notificationFor } from "./message.js";

const AT = Date.UTC(2026, 0, 14, 12);

function detail(phases: string[]): DeploymentDetail {
  return {
    id: "d-0002-abcd",
    kind: "deploy",
    version: "v2",
    slot: "green",
    fromSlot: "blue",
    phase: phases.at(-1) as DeploymentDetail["phase"],
    outcome: "running",
    reason: undefined,
    actor: "cli:alice",
    startedAt: new Date(AT).toISOString(),
    finishedAt: undefined,
    durationMs: undefined,
    phases: phases.map((phase, index) => ({ deploymentId: "d-0002-abcd", phase: phase as DeploymentDetail["phase"], startedAt: AT + index, finishedAt: undefined, detail: undefined })),
    checks: [],
    samples: [],
  };
}

describe("notificationFor", () => {
  it("announces the start once: a deployment resumed after a restart does not start again", () => {
    const fresh = detail(["queued", "deploying"]);
    expect(notificationFor({ type: "phase", deploymentId: fresh.id, phase: "deploying", at: AT + 1 }, "shop", () => fresh, AT)?.event).toBe("started");
    const resumed = detail(["queued", "deploying", "waiting-ready", "checking", "switching", "verifying-switch", "monitoring", "monitoring"]);
    expect(notificationFor({ type: "phase", deploymentId: resumed.id, phase: "monitoring", at: AT + 7 }, "shop", () => resumed, AT)).toBeUndefined();
  });

  it("asks for approval, and says nothing about phases nobody needs to hear of", () => {
    const waiting = detail(["queued", "deploying", "waiting-ready", "checking", "awaiting-approval"]);
    const asked = notificationFor({ type: "phase", deploymentId: waiting.id, phase: "awaiting-approval", at: AT + 4 }, "shop", () => waiting, AT);
    expect(asked?.text).toBe("✋ shop: v2 on green passed its checks and waits for approval (`flip promote`) — d-0002-abcd");
    expect(notificationFor({ type: "log", deploymentId: waiting.id, at: AT, message: "x" }, "shop", () => waiting, AT)).toBeUndefined();
    const checking = detail(["queued", "deploying", "waiting-ready", "checking"]);
    expect(notificationFor({ type: "phase", deploymentId: checking.id, phase: "checking", at: AT + 3 }, "shop", () => checking, AT)).toBeUndefined();
  });

  it("formats a Slack body as text only", () => {
    const started = notificationFor({ type: "phase", deploymentId: "d-0002-abcd", phase: "deploying", at: AT }, "shop", () => detail(["queued", "deploying"]), AT);
    expect(bodyFor(started!, "slack")).toEqual({ text: "🚀 shop: cli:alice started deploy v2 to green — d-0002-abcd" });
    expect(bodyFor(started!, "json")).toMatchObject({ event: "started", at: "2026-01-14T12:00:00.000Z", deployment: { id: "d-0002-abcd" } });
  });
});
