// `router.accessLog`: nginx counts nothing per upstream that Flip could ask for (stub_status has
// totals only), but it can log every request. With the `flip` log format below, each line names
// the status, the time nginx took, the slot the app said it is (a response header) and the
// upstream address it used; Flip reads the lines added since its last read and keeps per-slot
// cumulative counters: requests, 5xx answers and a latency histogram — what the monitor's rules
// and the rate gate need, with no metrics system.
//
//   log_format flip '$msec $status $request_time $upstream_http_x_flip_slot $upstream_addr';
//
// The file is followed across rotation (a new inode, or a file shorter than what was read: read
// from its start). A line cut by a read in the middle of a write is kept until its end arrives.
import { open, stat } from "node:fs/promises";
import { bucketIndex, BUCKET_BOUNDS_MS } from "../../core/histogram.js";
import { isSlot, SLOTS, type Slot } from "../../core/slots.js";
import type { TrafficSnapshot } from "../router.js";

/** What nginx.conf needs, for messages and the README. */
export const FLIP_LOG_FORMAT = "log_format flip '$msec $status $request_time $upstream_http_x_flip_slot $upstream_addr';";

/** At most this much is read per call; the rest waits for the next read (a window is ~seconds of lines). */
const MAX_READ_BYTES = 16 * 1024 * 1024;

export interface ParsedLine {
  status: number;
  latencyMs: number;
  /** The slot header's value, when the app set it ("-" otherwise). */
  slotHeader: string | undefined;
  /** The last upstream address tried ($upstream_addr lists every attempt). */
  upstream: string | undefined;
}

/** One line of the flip format, or undefined when it is not one (another format, a cut line). */
export function parseLogLine(line: string): ParsedLine | undefined {
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

export class AccessLogCounters {
  private readonly counts: Record<Slot, Counts> = { blue: emptyCounts(), green: emptyCounts() };
  private offset = 0;
  private inode: number | undefined;
  /** The start of a line whose end nginx has not written yet. */
  private partial = "";
  private reading: Promise<void> | undefined;

  constructor(
    readonly path: string,
    /** The slot a line belongs to, from the slot header or the upstream address; undefined: not counted. */
    private readonly slotOf: (line: ParsedLine) => Slot | undefined,
  ) {}

  /** Counts from now on: what the file already holds happened before Flip watched. */
  async start(): Promise<void> {
    const info = await stat(this.path);
    this.offset = info.size;
    this.inode = info.ino;
  }

  /** Reads what nginx appended since the last read (one read at a time), then the slot's counters. */
  async snapshot(slot: Slot, now: number): Promise<TrafficSnapshot> {
    this.reading ??= this.readNewLines().finally(() => (this.reading = undefined));
    await this.reading;
    const counts = this.counts[slot];
    return { at: now, requests: counts.requests, errors: counts.errors, inFlight: 0, latencyCounts: [...counts.latencyCounts] };
  }

  private async readNewLines(): Promise<void> {
    const info = await stat(this.path);
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
    const line = parseLogLine(text);
    if (!line) return;
    const slot = this.slotOf(line);
    if (!slot) return;
    const counts = this.counts[slot];
    counts.requests += 1;
    if (line.status >= 500) counts.errors += 1;
    counts.latencyCounts[bucketIndex(line.latencyMs)] = (counts.latencyCounts[bucketIndex(line.latencyMs)] ?? 0) + 1;
  }
}

function emptyCounts(): Counts {
  return { requests: 0, errors: 0, latencyCounts: new Array<number>(BUCKET_BOUNDS_MS.length + 1).fill(0) };
}

/** The slot a line names in its slot header, else the slot whose servers include its upstream address. */
export function slotOfLine(line: ParsedLine, serversOf: (slot: Slot) => readonly string[]): Slot | undefined {
  const named = line.slotHeader?.toLowerCase();
  if (isSlot(named)) return named;
  if (line.upstream === undefined) return undefined;
  return SLOTS.find((slot) => serversOf(slot).some((server) => (server.trim().split(/\s+/)[0] ?? "") === line.upstream));
}
