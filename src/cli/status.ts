// `flip status`: the app, which slot is live, what each slot runs, and the running deployment.
// `--json` prints the StatusView exactly as the API returns it.
import { SLOTS } from "../core/slots.js";
import type { StatusView } from "../engine/views.js";
import type { CliIo } from "./io.js";
import { colorsFor, println } from "./io.js";
import { formatElapsed, formatTable, jsonWithNulls } from "./output.js";
import type { Colors } from "./output.js";
import type { ConnectionOptions } from "./target.js";
import { connect } from "./target.js";

export interface StatusOptions extends ConnectionOptions {
  json?: boolean;
}

export async function statusCommand(options: StatusOptions, io: CliIo): Promise<number> {
  const client = await connect(options, io);
  try {
    const status = await client.status();
    if (options.json) println(io.stdout, JSON.stringify(statusJson(status), null, 2));
    else for (const line of formatStatus(status, colorsFor(io), Date.now())) println(io.stdout, line);
    return 0;
  } finally {
    await client.close();
  }
}

/** StatusView with every documented key present (null where the API left one out). */
export function statusJson(status: StatusView): StatusView {
  const slots = Object.fromEntries(SLOTS.map((slot) => [slot, jsonWithNulls(status.slots[slot], ["version"])])) as StatusView["slots"];
  return { ...jsonWithNulls(status, ["live", "deployment"]), slots };
}

export function formatStatus(status: StatusView, colors: Colors, now: number): string[] {
  const liveVersion = status.live ? status.slots[status.live].version : undefined;
  const live = status.live ? `${colors.green(status.live)}${liveVersion ? ` (${liveVersion})` : ""}` : colors.yellow("nothing yet");
  const router = [status.router.kind, status.router.listen ? `on ${status.router.listen}` : "", status.router.preview ? `(preview ${status.router.preview})` : ""].filter(Boolean).join(" ");
  const lines = [`${colors.bold(status.app)}  live: ${live}  ${colors.dim(`router ${router} · platform ${status.platform.kind}`)}`, ""];

  const rows = SLOTS.map((slot) => {
    const view = status.slots[slot];
    const state = view.state === "live" ? colors.green(view.state) : view.state === "failed" ? colors.red(view.state) : view.state;
    return [slot === status.live ? colors.bold(slot) : slot, view.version ?? colors.dim("—"), state, `${view.runningReplicas}/${view.replicas}`];
  });
  lines.push(...formatTable(["SLOT", "VERSION", "STATE", "REPLICAS"], rows, colors), "");
  // The cheap standby's schedule (retire: in flip.yaml), e.g. "blue: scale-down in 9m12s, retire in 23h59m".
  for (const slot of SLOTS) {
    const scheduled = status.slots[slot].scheduled ?? [];
    if (scheduled.length === 0) continue;
    lines.push(colors.dim(`${slot}: ${scheduled.map((item) => `${item.action} in ${formatElapsed(Date.parse(item.at) - now)}`).join(", ")}`));
  }
  if (SLOTS.some((slot) => (status.slots[slot].scheduled ?? []).length > 0)) lines.push("");

  const running = status.deployment;
  if (running) {
    const since = formatElapsed(now - Date.parse(running.startedAt));
    lines.push(`${colors.cyan("running:")} ${running.id}  ${running.kind} ${running.version} → ${running.slot}  phase ${colors.bold(running.phase)}  ${colors.dim(`started ${since} ago by ${running.actor}`)}`);
  } else {
    lines.push(colors.dim("no deployment running"));
  }
  return lines;
}
