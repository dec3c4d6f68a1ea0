// `router.accessLog` (nginx, Caddy): a proxy that keeps no per-upstream counters Flip could ask for
// can still log every request. Flip reads the lines added since its last read and keeps per-slot
// cumulative counters: requests, 5xx answers and a latency histogram — what the monitor's rules
// and the rate gate need, with no metrics system. Each router brings its line format (a parser)
// and says which slot a line belongs to.
//
// nginx, in the `flip` log format below: status, time taken, the slot the app named in its
// x-flip-slot header, and the upstream address nginx used:
//
//   log_format flip '$msec $status $request_time $upstream_http_x_flip_slot $upstream_addr';
//
// Caddy: its JSON access log (status, duration, response headers, where the handler's slot header
// is).
//
// The file is followed across rotation (a new inode, or a file shorter than what was read: read
// from its start). A line cut by a read in the middle of a write is kept until its end arrives.
import { open, stat } from "node:fs/promises";
import { bucketIndex, BUCKET_BOUNDS_MS } from "../core/histogram.js";
import { isSlot, SLOTS, type Slot } from "../core/slots.js";
import type { TrafficSnapshot } from "./router.js";

/** What nginx.conf needs, for messages and the README. */
export const FLIP_LOG_FORMAT = "log_format flip '$msec $status $request_time $upstream_http_x_flip_slot $upstream_addr';";

/** At most this much is read per call; the rest waits for the next read (a window is ~seconds of lines). */
const MAX_READ_BYTES = 16 * 1024 * 1024;

/** What every line format gives: enough to count a request. */
export interface LoggedRequest {
  status: number;
  latencyMs: number;
}

export interface ParsedLine extends LoggedRequest {
  /** The slot header's value, when the app set it ("-" otherwise). */
  slotHeader: string | undefined;
  /** The last upstream address tried ($upstream_addr lists every attempt). */
  upstream: string | undefined;
}

/** One line of nginx's flip format, or undefined when it is not one (another format, a cut line). */
export function parseNginxLine(line: string): ParsedLine | undefined {
  const [msec, status, requestTime, slotHeader, ...rest] = line.trim().split(/\s+/);
  if (!msec || !/^\d+(\.\d+)?$/.test(msec) || !status || !/^\d{3}$/.test(status) || !requestTime || !/^\d+(\.\d+)?$/.test(requestTime)) return undefined;
  // "$upstream_addr" is "10.0.0.1:80", or "10.0.0.1:80, 10.0.0.2:80" after a retry ("a : b" across an internal redirect).
  const upstream = rest.join(" ").split(/\s*,\s*|\s+:\s+/).filter((part) => part !== "" && part !== "-").at(-1);
  return { status: Number(status), latencyMs: Number(requestTime) * 1000, slotHeader: slotHeader === "-" ? undefined : slotHeader, upstream };
}

interface Counts {
  requests: number;
  errors: number;
  latencyCounts: number[];
}

export interface CaddyLine extends LoggedRequest {
  /** The named response header's value: a slot, or the upstream Caddy used ({http.reverse_proxy.upstream.hostport}). */
  header: string | undefined;
}

/** One line of Caddy's JSON access log ("handled request"), or undefined when it is not one. */
export function parseCaddyLine(text: string, headerName: string): CaddyLine | undefined {
  let entry: { msg?: unknown; status?: unknown; duration?: unknown; resp_headers?: Record<string, unknown> };
  try {
    entry = JSON.parse(text) as typeof entry;
  } catch {
    return undefined;
  }
  if (typeof entry.status !== "number" || typeof entry.duration !== "number") return undefined;
  const wanted = headerName.toLowerCase();
  const values = Object.entries(entry.resp_headers ?? {}).find(([name]) => name.toLowerCase() === wanted)?.[1];
  const header = Array.isArray(values) && typeof values[0] === "string" ? values[0] : undefined;
  return { status: entry.status, latencyMs: entry.duration * 1000, header };
}

export class AccessLogCounters<Line extends LoggedRequest> {
  private readonly counts: Record<Slot, Counts> = { blue: emptyCounts(), green: emptyCounts() };
  private offset = 0;
  private inode: number | undefined;
  /** The start of a line whose end nginx has not written yet. */
  private partial = "";
  private reading: Promise<void> | undefined;

  constructor(
    readonly path: string,
    /** One line of the router's format, or undefined for a line that is not one (not counted). */
    private readonly parse: (text: string) => Line | undefined,
    /** The slot a line belongs to; undefined: not counted. */
    private readonly slotOf: (line: Line) => Slot | undefined,
  ) {}

  /**
   * Counts from now on: what the file already holds happened before Flip watched. Resolves false
   * when the file does not exist yet (Caddy creates it with its first line): every line is then new.
   */
  async start(): Promise<boolean> {
    const info = await statIfExists(this.path);
    this.offset = info?.size ?? 0;
    this.inode = info?.ino;
    return info !== undefined;
  }

  /** Reads what nginx appended since the last read (one read at a time), then the slot's counters. */
  async snapshot(slot: Slot, now: number): Promise<TrafficSnapshot> {
    this.reading ??= this.readNewLines().finally(() => (this.reading = undefined));
    await this.reading;
    const counts = this.counts[slot];
    return { at: now, requests: counts.requests, errors: counts.errors, inFlight: 0, latencyCounts: [...counts.latencyCounts] };
  }

  private async readNewLines(): Promise<void> {
    const info = await statIfExists(this.path);
    if (info === undefined) return; // nothing logged yet
    if (info.ino !== this.inode || info.size < this.offset) {
      // Rotated (or truncated): the new file's lines are all new.
      this.inode = info.ino;
      this.offset = 0;
      this.partial = "";
    }
    if (info.size === this.offset) return;
    const length = Math.min(info.size - this.offset, MAX_READ_BYTES);
    const file = await open(this.path, "r");
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, this.offset);
      this.offset += bytesRead;
      const text = this.partial + buffer.subarray(0, bytesRead).toString("utf8");
      const lines = text.split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) this.count(line);
    } finally {
      await file.close();
    }
  }

  private count(text: string): void {
    const line = this.parse(text);
    if (!line) return;
    const slot = this.slotOf(line);
    if (!slot) return;
    const counts = this.counts[slot];
    counts.requests += 1;
    if (line.status >= 500) counts.errors += 1;
    counts.latencyCounts[bucketIndex(line.latencyMs)] = (counts.latencyCounts[bucketIndex(line.latencyMs)] ?? 0) + 1;
  }
}

async function statIfExists(path: string): Promise<{ size: number; ino: number } | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function emptyCounts(): Counts {
  return { requests: 0, errors: 0, latencyCounts: new Array<number>(BUCKET_BOUNDS_MS.length + 1).fill(0) };
}

/** nginx: the slot a line names in its slot header, else the slot whose servers include its upstream address. */
export function slotOfNginxLine(line: ParsedLine, serversOf: (slot: Slot) => readonly string[]): Slot | undefined {
  const named = line.slotHeader?.toLowerCase();
  if (isSlot(named)) return named;
  if (line.upstream === undefined) return undefined;
  return SLOTS.find((slot) => serversOf(slot).some((server) => (server.trim().split(/\s+/)[0] ?? "") === line.upstream));
}
