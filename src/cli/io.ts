// Where a command reads and writes: the process in real use, buffers in tests. Commands never
// touch process.stdout, process.env or process.on directly, so they can run in-process in a test.
import type { Colors } from "./output.js";
import { createColors } from "./output.js";

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
  /** Width of the terminal, when it is one (a live progress line must not wrap). */
  columns?: number;
}

/** Where answers to a prompt come from (node:readline reads it); a terminal only when isTTY. */
export type InputStream = NodeJS.ReadableStream & { isTTY?: boolean };

export type StopSignal = "SIGINT" | "SIGTERM";

export interface CliIo {
  /** Read only to ask a person something (Ctrl-C during `flip deploy`), and only when it is a terminal. */
  stdin: InputStream;
  stdout: OutputStream;
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
  /** Calls `handler` on each SIGINT/SIGTERM until the returned function is called. */
  onSignal(signal: StopSignal, handler: () => void): () => void;
  /** Ends the process now (a second Ctrl-C during `flip serve`). */
  exit(code: number): void;
}

export function processIo(): CliIo {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    onSignal(signal, handler) {
      process.on(signal, handler);
      return () => process.off(signal, handler);
    },
    exit(code) {
      process.exit(code);
    },
  };
}

/** Colours for stdout, or none when it is not a terminal or NO_COLOR is set. */
export function colorsFor(io: CliIo, stream: OutputStream = io.stdout): Colors {
  return createColors(colorEnabled(stream, io.env));
}

/** https://no-color.org: NO_COLOR (non-empty) wins; FORCE_COLOR turns colour on for pipes. */
export function colorEnabled(stream: OutputStream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/** Writes one line (adds the newline). */
export function println(stream: OutputStream, line = ""): void {
  stream.write(`${line}\n`);
}
