// How the CLI reports a failure on stderr: `error:` and `hint:` for anything Flip raised on purpose
// (a ConfigError's message already lists every problem), and a plain "this is a bug" for the rest.
// Never a stack trace unless FLIP_DEBUG asks for one.
import { FlipError } from "../core/errors.js";
import type { CliIo } from "./io.js";
import { colorsFor, println } from "./io.js";

/** Prints the error and returns the exit code to use (always 1). */
export function reportError(error: unknown, io: CliIo): number {
  const colors = colorsFor(io, io.stderr);
  if (error instanceof FlipError) {
    println(io.stderr, `${colors.red("error:")} ${error.message}`);
    if (error.hint) println(io.stderr, `${colors.dim("hint:")} ${error.hint}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    println(io.stderr, `${colors.red("error:")} ${message}`);
    println(io.stderr, `${colors.dim("note:")} this is a bug in Flip; please report it with the command you ran (FLIP_DEBUG=1 prints the stack trace).`);
  }
  if (io.env.FLIP_DEBUG && error instanceof Error && error.stack) println(io.stderr, error.stack);
  return 1;
}
