#!/usr/bin/env node
// The `flip` executable. Everything happens in runCli; this file only connects it to the process.
import { processIo } from "./io.js";
import { runCli } from "./program.js";

const code = await runCli(process.argv.slice(2), processIo());
process.exitCode = code;
// Let stdout drain and the process end by itself; if something still holds it open (a socket in a
// pool), end it shortly after — the answer has been given.
setTimeout(() => process.exit(code), 1_000).unref();
