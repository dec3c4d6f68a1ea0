// A CliIo for in-process command tests: output into strings, signals raised by the test, and
// exit() recorded instead of ending the test runner. With `tty: true` it plays a terminal: stdin
// and stdout say isTTY, stdout has a width, every write is kept apart (to see in-place rewrites),
// and type() sends what a person would type.
import { PassThrough } from "node:stream";
import type { CliIo, InputStream, StopSignal } from "../io.js";

export interface TestIo extends CliIo {
  out(): string;
  err(): string;
  /** Each write to stdout, in order. */
  stdoutWrites: string[];
  /** Calls the handlers a command registered for `signal`; false when none is registered. */
  raise(signal: StopSignal): boolean;
  /** Sends text to stdin, as typed (e.g. "a\n"). */
  type(text: string): void;
  exits: number[];
}

export interface TestIoOptions {
  /** Play a terminal (stdin and stdout are TTYs, 80 columns). */
  tty?: boolean;
  columns?: number;
}

export function testIo(env: NodeJS.ProcessEnv = {}, options: TestIoOptions = {}): TestIo {
  let stdout = "";
  let stderr = "";
  const stdoutWrites: string[] = [];
  const handlers = new Map<StopSignal, Set<() => void>>([
    ["SIGINT", new Set()],
    ["SIGTERM", new Set()],
  ]);
  const exits: number[] = [];
  const tty = options.tty ?? false;
  const stdin = Object.assign(new PassThrough({ encoding: "utf8" }), { isTTY: tty }) as PassThrough & InputStream;
  return {
    stdin,
    stdout: {
      write: (text: string) => {
        stdoutWrites.push(text);
        stdout += text;
        return true;
      },
      isTTY: tty,
      ...(tty ? { columns: options.columns ?? 80 } : {}),
    },
    stderr: { write: (text: string) => (stderr += text), isTTY: tty },
    env: { NO_COLOR: "1", ...env },
    onSignal(signal, handler) {
      handlers.get(signal)?.add(handler);
      return () => handlers.get(signal)?.delete(handler);
    },
    exit(code) {
      exits.push(code);
    },
    out: () => stdout,
    err: () => stderr,
    stdoutWrites,
    raise(signal) {
      const set = handlers.get(signal);
      if (!set || set.size === 0) return false;
      for (const handler of [...set]) handler();
      return true;
    },
    type(text) {
      stdin.write(text);
    },
    exits,
  };
}
