// Every error Flip raises on purpose, each with a stable code (listed in docs/errors.md).
// A user-facing error says what was wrong, where, and what to do (`hint`).
// Expected outcomes — a failed smoke check, a breached rule — are data, not errors.

export type ErrorCode =
  | "FLIP_E_CONFIG"
  | "FLIP_E_LOCKED"
  | "FLIP_E_NO_CHECKS"
  | "FLIP_E_NO_STANDBY"
  | "FLIP_E_EMPTY_SLOT"
  | "FLIP_E_UNSUPPORTED"
  | "FLIP_E_PLATFORM"
  | "FLIP_E_ROUTER"
  | "FLIP_E_STORE"
  | "FLIP_E_TIMEOUT"
  | "FLIP_E_NOT_FOUND"
  | "FLIP_E_BAD_REQUEST"
  | "FLIP_E_UNAUTHORIZED"
  | "FLIP_E_RATE_LIMITED"
  | "FLIP_E_SERVER_UNREACHABLE"
  | "FLIP_E_PORT_IN_USE"
  | "FLIP_E_NOTHING_RUNNING"
  | "FLIP_E_CONTRACT_BLOCKED"
  | "FLIP_E_SCHEMA_CONTRACTED"
  /** Answered by the control API for an unexpected failure (a bug); the server logs the details. */
  | "FLIP_E_INTERNAL";

export class FlipError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.hint = hint;
  }

  toJSON(): { code: ErrorCode; message: string; hint?: string } {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }
}

/** One problem in flip.yaml: where (key path and line) and what was expected. */
export interface ConfigProblem {
  path: string;
  line: number | undefined;
  message: string;
}

export class ConfigError extends FlipError {
  readonly file: string;
  readonly problems: ConfigProblem[];

  /** `options` replace the message and hint when the file could not be read at all (e.g. not found). */
  constructor(file: string, problems: ConfigProblem[], options?: { message?: string; hint?: string }) {
    const lines = problems.map((p) => `  ${file}${p.line ? `:${p.line}` : ""}  ${p.path || "(top level)"}: ${p.message}`);
    super(
      "FLIP_E_CONFIG",
      options?.message ?? `${file} is not a valid Flip config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`,
      options?.hint ?? "Fix the lines above, then run `flip validate` again.",
    );
    this.file = file;
    this.problems = problems;
  }
}

export class LockedError extends FlipError {
  readonly runningId: string;
  constructor(runningId: string, runningWhat: string) {
    super(
      "FLIP_E_LOCKED",
      `Another deployment is running: ${runningId} (${runningWhat}).`,
      "Wait for it to finish (`flip status`), or stop it with `flip abort`.",
    );
    this.runningId = runningId;
  }
}

export class NoChecksError extends FlipError {
  constructor() {
    super(
      "FLIP_E_NO_CHECKS",
      "No checks are configured, so the new version would get traffic without a single smoke test.",
      "Add at least one entry under `checks:` in flip.yaml (e.g. `- { name: health, http: { path: /health } }`), or pass --force to switch untested.",
    );
  }
}

export class NoStandbyError extends FlipError {
  constructor(detail: string) {
    super("FLIP_E_NO_STANDBY", `Nothing to roll back to: ${detail}.`, "Deploy a version with `flip deploy <version>` instead.");
  }
}

export class EmptySlotError extends FlipError {
  constructor(slot: string, detail = "no version runs there") {
    super("FLIP_E_EMPTY_SLOT", `Cannot send traffic to ${slot}: ${detail}.`, `Deploy a version to ${slot} first with \`flip deploy <version>\`.`);
  }
}

export class UnsupportedError extends FlipError {
  constructor(what: string, driver: string) {
    super("FLIP_E_UNSUPPORTED", `${driver} does not support ${what}.`, "Choose a router or platform that lists it in its capabilities.");
  }
}

export class PlatformError extends FlipError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super("FLIP_E_PLATFORM", message, hint, options);
  }
}

export class RouterError extends FlipError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super("FLIP_E_ROUTER", message, hint, options);
  }
}

export class StoreError extends FlipError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super("FLIP_E_STORE", message, hint, options);
  }
}

export class TimeoutError extends FlipError {
  constructor(message: string, hint?: string) {
    super("FLIP_E_TIMEOUT", message, hint);
  }
}

export class NotFoundError extends FlipError {
  constructor(message: string, hint?: string) {
    super("FLIP_E_NOT_FOUND", message, hint);
  }
}

export class BadRequestError extends FlipError {
  constructor(message: string, hint?: string) {
    super("FLIP_E_BAD_REQUEST", message, hint);
  }
}

export class PortInUseError extends FlipError {
  constructor(what: string, address: string) {
    super(
      "FLIP_E_PORT_IN_USE",
      `Cannot listen for ${what} on ${address}: the address is already in use.`,
      `Stop whatever listens there (\`ss -ltnp | grep ${address.split(":").pop() ?? ""}\`) or pick another address in flip.yaml.`,
    );
  }
}

export class NothingRunningError extends FlipError {
  constructor(what: string) {
    super("FLIP_E_NOTHING_RUNNING", `No deployment is running, so there is nothing to ${what}.`, "See `flip status`.");
  }
}

export class UnauthorizedError extends FlipError {
  /** `what` says which calls need the token: on a loopback listener, only those that change something. */
  constructor(reason: string, what = "changing anything through the Flip API") {
    super(
      "FLIP_E_UNAUTHORIZED",
      `${reason}: ${what} needs the control token.`,
      "Set FLIP_TOKEN to the value of control.token in flip.yaml, or send `Authorization: Bearer <token>`.",
    );
  }
}

export class RateLimitedError extends FlipError {
  readonly retryAfterSeconds: number;
  constructor(client: string, retryAfterSeconds: number) {
    super(
      "FLIP_E_RATE_LIMITED",
      `Too many calls with a wrong token from ${client}; the control API refuses its calls that need the token for ${retryAfterSeconds} s.`,
      "Check FLIP_TOKEN against control.token in flip.yaml, then try again after that time.",
    );
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class ServerUnreachableError extends FlipError {
  constructor(url: string, reason: string, hint: string, options?: ErrorOptions) {
    super("FLIP_E_SERVER_UNREACHABLE", `Cannot reach flip serve at ${url} (${reason}).`, hint, options);
  }
}

/** `flip contract` while a rollback target still runs a version that needs what the contract removes. */
export class ContractBlockedError extends FlipError {
  constructor(message: string, hint: string) {
    super("FLIP_E_CONTRACT_BLOCKED", message, hint);
  }
}

/** A rollback to a version older than the database's contracted schema (--force overrides). */
export class SchemaContractedError extends FlipError {
  constructor(message: string, hint: string) {
    super("FLIP_E_SCHEMA_CONTRACTED", message, hint);
  }
}

/** Turns anything thrown into a one-line message (FlipErrors keep their own text). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
