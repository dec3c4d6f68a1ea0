// A CliIo for in-process command tests: output into strings, signals raised by the test, and
// exit() recorded instead of ending the test runner.
import type { CliIo, StopSignal } from "../io.js";

export interface TestIo extends CliIo {
  out(): string;
  err(): string;
  /** Calls the handlers a command registered for `signal`; false when none is registered. */
  raise(signal: StopSignal): boolean;
  exits: number[];
}

export function testIo(env: NodeJS.ProcessEnv = {}): TestIo {
  let stdout = "";
  let stderr = "";
  const handlers = new Map<StopSignal, Set<() => void>>([
    ["SIGINT", new Set()],
    ["SIGTERM", new Set()],
  ]);
  const exits: number[] = [];
  return {
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text), isTTY: false },
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
    raise(signal) {
      const set = handlers.get(signal);
      if (!set || set.size === 0) return false;
      for (const handler of [...set]) handler();
      return true;
    },
    exits,
  };
}
