// `router: { kind: nginx }`: traffic goes where one file Flip owns points — an upstream block that
// nginx.conf includes. A switch writes the slot's file (temporary file + rename), runs `nginx -t`
// (a refusal puts the previous file back), then a graceful reload. The file is the truth for live()
// after a restart; with `probeUrl`, a request through nginx checks that nginx really serves it.
import { resolve } from "node:path";
import { formatDuration } from "../../core/duration.js";
import { EmptySlotError, RouterError, TimeoutError } from "../../core/errors.js";
import type { Endpoint, Slot } from "../../core/slots.js";
import { describeFileError, readTextIfExists, restoreFile, writeFileAtomically } from "../file-common/atomic-file.js";
import type { Router, RouterCapabilities, RouterContext, TrafficSnapshot } from "../router.js";
import { AccessLogCounters, FLIP_LOG_FORMAT, parseNginxLine, slotOfNginxLine, type ParsedLine } from "../access-log.js";
import type { NginxRouterConfig } from "./config.js";
import { runNginxCommand } from "./nginx-commands.js";
import { probeSlot, slotOfHeader, type ProbeAnswer } from "../slot-probe.js";
import { renderUpstreamFile, serverOfEndpoint, slotOfFile, summarizeUpstreamFile } from "./upstream-file.js";

/** Bounds one probe so a hung nginx cannot stall a poll loop, whose own deadline runs on the clock. */
const PROBE_REQUEST_TIMEOUT_MS = 2_000;

export interface NginxRouterOptions {
  /** flip.yaml's folder: `file` is relative to it, and the commands run in it. */
  configDir: string;
}

/**
 * When switchTo() and verify() believe a slot answers: this many answers in a row from it, each on
 * a new connection — and, after a reload, not before STEADY_MS have passed since the new slot
 * first answered. On a reload, nginx's master starts the new workers, sleeps 100 ms, and only then
 * tells the old ones to stop accepting (ngx_master_process_cycle): for those 100 ms a new
 * connection may reach either configuration. STEADY_MS is that window with a margin for a busy
 * machine.
 */
export const STEADY_ANSWERS = 3;
export const STEADY_MS = 250;

/** The last reload this router made, until its old workers can no longer take a connection. */
interface PendingReload {
  slot: Slot;
  /** When a probe first reached the new configuration (so its workers were running). */
  firstAnsweredAt?: number;
}

export class NginxRouter implements Router {
  readonly kind = "nginx";
  /** verify observes the data plane only through a probe. */
  readonly capabilities: RouterCapabilities;
  /** The absolute path of the file Flip owns. */
  readonly file: string;
  private readonly configDir: string;
  private readonly upstream: string;
  /** Each slot's servers from setTargets (unused when `slots` fixes them in flip.yaml). */
  private readonly targets: Partial<Record<Slot, string[]>> = {};
  private pendingReload: PendingReload | undefined;
  private readonly accessLog: AccessLogCounters<ParsedLine> | undefined;
  /** The slot the file points at, as last read or written: where nginx's own answers count (access log). */
  private fileSlot: Slot | undefined;
  /** Present with `accessLog`: each slot's traffic as nginx logged it (see access-log.ts). */
  readonly readTraffic?: (slot: Slot) => Promise<TrafficSnapshot>;

  constructor(
    private readonly config: NginxRouterConfig,
    private readonly context: RouterContext,
    options: NginxRouterOptions,
  ) {
    this.configDir = options.configDir;
    this.file = resolve(options.configDir, config.file);
    this.upstream = config.upstream ?? context.app;
    this.capabilities = { weights: false, mirror: false, verify: config.probeUrl !== undefined, traffic: false };
    if (config.accessLog !== undefined) {
      // A line with neither slot header nor a server's address (nginx's own 502 when no server of
      // the upstream is up logs the upstream's name) counts for the slot the file points at.
      const serversOf = (slot: Slot) => this.config.slots?.[slot] ?? this.targets[slot] ?? [];
      const counters = new AccessLogCounters(resolve(options.configDir, config.accessLog), parseNginxLine, (line) => slotOfNginxLine(line, serversOf) ?? this.fileSlot);
      this.accessLog = counters;
      this.readTraffic = (slot) => counters.snapshot(slot, this.context.clock.now()).catch((error: unknown) => Promise.reject(this.accessLogError(error)));
    }
  }

  async start(): Promise<void> {
    const found = await this.accessLog?.start().catch((error: unknown) => Promise.reject(this.accessLogError(error)));
    if (found === false) {
      this.context.logger.warn({ accessLog: this.accessLog?.path }, `${this.accessLog?.path} (router.accessLog) does not exist yet: nginx creates it when it starts or reloads with the access_log line; until it does, the monitor counts no requests`);
    }
    const text = await this.readFile();
    const slot = slotOfFile(text);
    this.fileSlot = slot;
    const state = text === undefined ? "does not exist yet" : slot ? `points at ${slot}` : "was not written by Flip yet";
    this.context.logger.info({ file: this.file, live: slot }, `nginx upstream file ${state}`);
  }

  /** Remembers a slot's replicas; when the slot is live and they changed, nginx is pointed at the new ones. */
  async setTargets(slot: Slot, endpoints: Endpoint[]): Promise<void> {
    if (this.config.slots) return; // the servers are fixed in flip.yaml
    this.targets[slot] = endpoints.map(serverOfEndpoint);
    const current = await this.readFile();
    if (slotOfFile(current) !== slot) return;
    if (endpoints.length === 0) {
      this.context.logger.warn({ slot, file: this.file }, "the live slot has no replica left; nginx keeps the servers it has");
      return;
    }
    const content = this.render(slot, this.targets[slot]);
    if (content === current) return;
    await this.apply(slot, current, content);
    this.context.logger.info({ slot, upstream: summarizeUpstreamFile(content) }, "the live slot's replicas changed: nginx follows them");
  }

  /** The file's slot — unless nginx, asked through probeUrl, is answering from the other one. */
  async live(): Promise<Slot | undefined> {
    const fileSlot = slotOfFile(await this.readFile());
    if (this.config.probeUrl === undefined) return fileSlot;
    const answer = await probeSlot(this.config.probeUrl, this.config.slotHeader, PROBE_REQUEST_TIMEOUT_MS);
    if (!answer.reached) throw this.unreachable(answer.reason);
    const answered = this.slotOf(answer);
    if (answered === undefined || answered === fileSlot) return fileSlot;
    // Just after a reload, old workers may still take a connection: only a steady answer overrules the file.
    if ((await this.awaitAnswers(answered, STEADY_ANSWERS * this.config.pollInterval)) !== undefined) return fileSlot;
    this.context.logger.warn({ file: this.file, fileSlot, answered }, `nginx answers from ${answered}, although ${this.file} points at ${fileSlot ?? "no slot"}: it runs an older configuration`);
    return answered;
  }

  private accessLogError(error: unknown): RouterError {
    return new RouterError(
      `Cannot read nginx's access log ${this.accessLog?.path} (router.accessLog): ${describeFileError(error)}.`,
      `nginx.conf needs, in the http block, \`${FLIP_LOG_FORMAT}\` and, where the app is proxied, \`access_log ${this.accessLog?.path} flip;\`; flip serve must be able to read the file.`,
      { cause: error },
    );
  }

  async planSwitch(slot: Slot): Promise<string[]> {
    const current = await this.readFile();
    const servers = this.config.slots?.[slot] ?? this.targets[slot] ?? [];
    const knownServers = servers.length > 0 || !this.config.template.includes("{servers}");
    const content = knownServers ? this.render(slot, servers) : undefined;
    if (content !== undefined && content === current && (await this.otherSlotAnswering(slot)) === undefined) {
      return [`${this.file} already points at ${slot}: no change, no reload`];
    }
    const what = content !== undefined ? summarizeUpstreamFile(content) : `${slot}'s replicas (their host:port once the platform reports them ready)`;
    return [
      `write ${this.file} (a temporary file in the same folder, then rename): ${what} (now: ${current === undefined ? "no file" : (slotOfFile(current) ?? "not written by Flip")})`,
      `check: ${this.config.testCommand} — if it fails, the previous file is put back and nothing is reloaded`,
      `apply: ${this.config.reloadCommand} (graceful: new workers take new connections, old ones finish theirs)`,
      this.config.probeUrl === undefined
        ? "no probeUrl: nothing checks which slot nginx answers from; the file is trusted"
        : `then GET ${this.config.probeUrl} every ${formatDuration(this.config.pollInterval)} until ${this.config.slotHeader} names ${slot} ${STEADY_ANSWERS} times in a row, and ${formatDuration(STEADY_MS)} after it first did (old workers accept for 100 ms after a reload)`,
    ];
  }

  async switchTo(slot: Slot): Promise<void> {
    const servers = this.serversOf(slot);
    const content = this.render(slot, servers);
    const current = await this.readFile();
    const from = slotOfFile(current);
    if (content === current) {
      const answering = await this.otherSlotAnswering(slot);
      if (answering === undefined) {
        this.context.logger.debug({ slot, file: this.file }, "switch skipped: the file already points at this slot");
        return;
      }
      // The file is right but nginx is not: a reload was missed. Reload, without rewriting.
      this.context.logger.warn({ slot, answering }, `${this.file} points at ${slot} but nginx answers from ${answering}: reloading`);
    }
    await this.apply(slot, current, content);
    const notYet = await this.awaitAnswers(slot, this.config.reloadTimeout);
    if (notYet !== undefined) throw await this.reloadNotApplied(slot, notYet, content === current ? undefined : { previous: current });
    this.context.logger.info({ from, to: slot, upstream: summarizeUpstreamFile(content) }, `traffic switched: nginx reloaded with ${slot}'s upstream`);
    this.context.onEvent?.({ type: "switched", from, to: slot, at: this.context.clock.now() });
  }

  /** The file must point at `slot`; with a probe, nginx must then answer from it several times in a row. */
  async verify(slot: Slot, timeoutMs: number): Promise<void> {
    const fileSlot = slotOfFile(await this.readFile());
    if (fileSlot !== slot) {
      throw new TimeoutError(
        `${this.file} points at ${fileSlot ?? "no slot Flip wrote"}, not ${slot}.`,
        `Something other than this deployment changed the file, or the switch did not happen; \`flip switch ${slot}\` points it again.`,
      );
    }
    const notYet = await this.awaitAnswers(slot, timeoutMs);
    if (notYet === undefined) return;
    throw new TimeoutError(
      `nginx did not converge on ${slot} within ${formatDuration(timeoutMs)}: ${this.config.probeUrl} last answered ${notYet}.`,
      "The reload may have failed (nginx's error log says why), or the app does not set router.slotHeader.",
    );
  }

  async close(): Promise<void> {
    // Nothing is kept open: every probe uses its own connection.
  }

  // ---- the file and the commands --------------------------------------------------------------

  private render(slot: Slot, servers: readonly string[]): string {
    return renderUpstreamFile({ app: this.context.app, upstream: this.upstream, template: this.config.template, slot, servers });
  }

  private serversOf(slot: Slot): string[] {
    const servers = this.config.slots?.[slot] ?? this.targets[slot] ?? [];
    if (servers.length === 0 && this.config.template.includes("{servers}")) throw new EmptySlotError(slot, "the platform reports no replica there, so nginx would have no server to send it to");
    return servers;
  }

  private async readFile(): Promise<string | undefined> {
    try {
      return await readTextIfExists(this.file);
    } catch (error) {
      throw new RouterError(`Cannot read ${this.file} (router.file): ${describeFileError(error)}.`, "Flip needs to read and write this file and create files in its folder.", { cause: error });
    }
  }

  /** Writes, tests, reloads; a refusal at any step puts the previous file back. */
  private async apply(slot: Slot, previous: string | undefined, content: string): Promise<void> {
    const write = previous !== content;
    if (write) {
      try {
        await writeFileAtomically(this.file, content);
      } catch (error) {
        throw new RouterError(
          `Cannot write ${this.file} (router.file): ${describeFileError(error)}; nothing changed.`,
          "Flip writes a temporary file next to it and renames it: it needs write access to the folder.",
          { cause: error },
        );
      }
    }
    const test = await this.run(this.config.testCommand);
    if (!test.ok) {
      const restored = write ? await this.restore(previous) : "";
      throw new RouterError(
        `\`${this.config.testCommand}\` ${test.outcome} with ${slot}'s upstream file in place, so Flip ${write ? "put the previous file back and " : ""}did not reload (traffic is as before)${restored}:\n${test.output}`,
        "nginx's message above names the file and line. If it is the upstream file, fix router.template (or router.slots) in flip.yaml.",
      );
    }
    const reload = await this.run(this.config.reloadCommand);
    if (!reload.ok) {
      const restored = write ? await this.restore(previous) : "";
      throw new RouterError(
        `\`${this.config.reloadCommand}\` ${reload.outcome}, so Flip ${write ? "put the previous file back" : "changed nothing"} (nginx runs the configuration it had)${restored}:\n${reload.output}`,
        "Is nginx running, and may Flip signal it? Set router.reloadCommand to what reloads your nginx (e.g. `systemctl reload nginx`).",
      );
    }
    this.pendingReload = { slot };
    this.fileSlot = slot;
  }

  private run(command: string) {
    return runNginxCommand(command, { cwd: this.configDir, timeoutMs: this.config.commandTimeout, clock: this.context.clock });
  }

  /** "" when the previous file is back; otherwise a sentence for the error message. */
  private async restore(previous: string | undefined): Promise<string> {
    try {
      await restoreFile(this.file, previous);
      return "";
    } catch (error) {
      return ` — but putting the previous file back failed (${describeFileError(error)}): fix ${this.file} before nginx reloads`;
    }
  }

  // ---- asking nginx --------------------------------------------------------------------------

  private slotOf(answer: ProbeAnswer & { reached: true }): Slot | undefined {
    const serversBySlot = this.config.slots ?? this.targets;
    return slotOfHeader(answer.header, serversBySlot);
  }

  /** With a probe: the other slot, when nginx answers from it. Undefined without a probe. */
  private async otherSlotAnswering(slot: Slot): Promise<Slot | undefined> {
    if (this.config.probeUrl === undefined) return undefined;
    const answer = await probeSlot(this.config.probeUrl, this.config.slotHeader, PROBE_REQUEST_TIMEOUT_MS);
    if (!answer.reached) throw this.unreachable(answer.reason);
    const answered = this.slotOf(answer);
    return answered !== undefined && answered !== slot ? answered : undefined;
  }

  /**
   * Probes every pollInterval (on the clock) until `slot` answers steadily: resolves to undefined
   * then, or to what the last probe saw once timeoutMs has passed. Without a probe there is
   * nothing to wait for.
   */
  private async awaitAnswers(slot: Slot, timeoutMs: number): Promise<string | undefined> {
    const url = this.config.probeUrl;
    if (url === undefined) return undefined;
    const { clock } = this.context;
    const deadline = clock.now() + timeoutMs;
    let streak = 0;
    for (;;) {
      const answer = await probeSlot(url, this.config.slotHeader, PROBE_REQUEST_TIMEOUT_MS);
      const answered = answer.reached ? this.slotOf(answer) : undefined;
      streak = answered === slot ? streak + 1 : 0;
      if (streak >= STEADY_ANSWERS && this.oldWorkersGone(answered)) return undefined;
      const remainingMs = deadline - clock.now();
      if (remainingMs <= 0) return this.describeAnswer(answer, answered);
      await clock.sleep(Math.min(this.config.pollInterval, remainingMs));
    }
  }

  /** Whether the workers from before the last reload can no longer take a connection (see STEADY_MS). */
  private oldWorkersGone(answered: Slot | undefined): boolean {
    const pending = this.pendingReload;
    if (pending === undefined) return true;
    const now = this.context.clock.now();
    if (answered === pending.slot) pending.firstAnsweredAt ??= now;
    if (pending.firstAnsweredAt === undefined || now - pending.firstAnsweredAt < STEADY_MS) return false;
    this.pendingReload = undefined;
    return true;
  }

  private describeAnswer(answer: ProbeAnswer, answered: Slot | undefined): string {
    if (!answer.reached) return `nothing (${answer.reason})`;
    if (answered !== undefined) return `from ${answered}`;
    const header = this.config.slotHeader;
    return `HTTP ${answer.status} ${answer.header === undefined ? `without ${header}` : `with ${header}: ${answer.header}, which names neither slot`}`;
  }

  private unreachable(reason: string): RouterError {
    return new RouterError(`nginx does not answer at ${this.config.probeUrl} (router.probeUrl): ${reason}.`, "Is nginx running, and does it listen there? The probe goes through nginx to the live slot.");
  }

  /**
   * nginx never answered from the new slot after the reload: it probably refused the configuration
   * (nginx -t cannot see a port it cannot bind). The previous file goes back, with one more reload
   * in case nginx did take the new one late, so the file and nginx agree on the old slot again.
   */
  private async reloadNotApplied(slot: Slot, seen: string, rewritten?: { previous: string | undefined }): Promise<RouterError> {
    const message = `nginx was told to reload with ${this.file} pointing at ${slot}, but ${this.config.probeUrl} still answered ${seen} after ${formatDuration(this.config.reloadTimeout)}`;
    const hint = "nginx may have refused the configuration at reload time (a port it cannot bind, a certificate it cannot read): its error log says why.";
    if (rewritten === undefined) return new RouterError(`${message}.`, hint);
    const restored = await this.restore(rewritten.previous);
    const reload = restored === "" ? await this.run(this.config.reloadCommand) : undefined;
    const previousSlot = slotOfFile(rewritten.previous);
    this.pendingReload = reload?.ok && previousSlot ? { slot: previousSlot } : undefined;
    const after = restored !== "" ? restored : reload?.ok ? "; Flip put the previous file back and reloaded again" : `; Flip put the previous file back, but \`${this.config.reloadCommand}\` ${reload?.outcome ?? "failed"}`;
    return new RouterError(`${message}${after}.`, hint);
  }
}
