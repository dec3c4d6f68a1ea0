// A load generator that remembers every response (start, end, status, which slot answered), which
// wrk cannot: the switch benchmark needs to know which slot served each request and when it began.
// N keep-alive connections, each sending its next request as soon as the last answer arrived.
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { isSlot } from "../../src/core/slots.js";
import type { ResponseRecord } from "./switch-analysis.js";

export const SLOT_HEADER = "x-flip-slot";

export interface RecordedLoad {
  responses: ResponseRecord[];
  socketErrors: number;
  /** A few distinct error messages, to say what went wrong. */
  errorSamples: string[];
}

export interface RecordedLoadOptions {
  origin: string;
  connections: number;
  durationMs: number;
}

/** Runs until durationMs has passed, then waits for the answers in flight; times are performance.now(). */
export async function runRecordedLoad(options: RecordedLoadOptions): Promise<RecordedLoad> {
  const pool = new Pool(options.origin, { connections: options.connections, pipelining: 1 });
  const recording: RecordedLoad = { responses: [], socketErrors: 0, errorSamples: [] };
  const deadline = performance.now() + options.durationMs;
  const connection = async () => {
    while (performance.now() < deadline) {
      const startMs = performance.now();
      try {
        const response = await pool.request({ path: "/", method: "GET" });
        await response.body.dump();
        const slot = response.headers[SLOT_HEADER];
        recording.responses.push({ startMs, endMs: performance.now(), status: response.statusCode, slot: isSlot(slot) ? slot : undefined });
      } catch (error) {
        recording.socketErrors += 1;
        const message = error instanceof Error ? `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}` : String(error);
        if (recording.errorSamples.length < 5 && !recording.errorSamples.includes(message)) recording.errorSamples.push(message);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, connection));
  } finally {
    await pool.destroy();
  }
  return recording;
}
