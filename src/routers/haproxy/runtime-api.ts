// HAProxy's runtime API (the "stats socket"): a line protocol on a unix socket or a TCP port. In its
// default, non-interactive mode, one connection carries one command: send it and a newline, read
// until HAProxy closes the connection. The answer is text; a command HAProxy refuses answers with
// its reason (e.g. "Unknown map identifier."), which the caller interprets.
import { createConnection, isIP, type Socket } from "node:net";
import { RouterError } from "../../core/errors.js";

export type RuntimeApiAddress = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

/**
 * The address as `stats socket` writes it: a socket path (`/run/haproxy/admin.sock`, `unix@…`) or
 * host:port (`127.0.0.1:9999`, `ipv4@127.0.0.1:9999`, `[::1]:9999`, `ipv6@[::1]:9999`).
 */
export function parseRuntimeApiAddress(text: string): RuntimeApiAddress | undefined {
  const value = text.trim();
  if (value.startsWith("unix@")) return value.length > 5 ? { kind: "unix", path: value.slice(5) } : undefined;
  if (value.startsWith("/")) return { kind: "unix", path: value };
  const match = /^(?:ipv[46]@)?(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const host = (match[1] ?? match[2]) as string;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  if (match[1] !== undefined && isIP(host) !== 6) return undefined;
  return { kind: "tcp", host, port };
}

export function describeAddress(address: RuntimeApiAddress): string {
  if (address.kind === "unix") return address.path;
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** The `stats socket` line that would open this address, for messages. */
export function statsSocketLine(address: RuntimeApiAddress): string {
  if (address.kind === "unix") return `stats socket ${address.path} level admin`;
  return `stats socket ${address.host.includes(":") ? "ipv6" : "ipv4"}@${describeAddress(address)} level admin`;
}

/** Sends one command and resolves to HAProxy's whole answer, without the blank line that ends it. */
export function runtimeCommand(address: RuntimeApiAddress, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = address.kind === "unix" ? createConnection({ path: address.path }) : createConnection({ host: address.host, port: address.port });
    const chunks: Buffer[] = [];
    let failed = false;
    const fail = (error: RouterError) => {
      failed = true;
      socket.destroy();
      reject(error);
    };
    // An I/O limit (the socket's own idle timer), not a policy wait: it keeps a hung HAProxy from
    // stalling a switch; the waits that are decisions (verify's polling) run on the injected clock.
    socket.setTimeout(timeoutMs, () => fail(unreachable(address, `no answer within ${timeoutMs / 1000}s`)));
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (!failed) fail(unreachable(address, reasonOf(error, address), error));
    });
    socket.on("close", () => {
      if (failed) return;
      resolve(Buffer.concat(chunks).toString("utf8").replace(/\n+$/, ""));
    });
  });
}

function reasonOf(error: NodeJS.ErrnoException, address: RuntimeApiAddress): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOENT":
      return "no such socket";
    case "EACCES":
    case "EPERM":
      return address.kind === "unix" ? "permission denied (the socket's mode or group must let Flip's user in: `stats socket … mode 660 group <group> level admin`)" : "permission denied";
    case "ENOTSOCK":
      return "that file is not a socket";
    case "ECONNRESET":
      return "HAProxy closed the connection";
    default:
      return error.message;
  }
}

function unreachable(address: RuntimeApiAddress, reason: string, cause?: Error): RouterError {
  return new RouterError(
    `Cannot reach the HAProxy runtime API at ${describeAddress(address)}: ${reason} — is \`${statsSocketLine(address)}\` in haproxy.cfg?`,
    "Start HAProxy, or set router.runtimeApi in flip.yaml to the address of its `stats socket`.",
    cause ? { cause } : undefined,
  );
}
