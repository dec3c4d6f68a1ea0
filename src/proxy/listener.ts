// Binding a node:http server to a "host:port" from flip.yaml, with the errors a user can act on.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseListenAddress } from "../config/fields.js";
import { PortInUseError, RouterError } from "../core/errors.js";

/** "host:port", with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Listens on `address` ("127.0.0.1:0" picks a free port); resolves with the address really bound. */
export function bindServer(server: Server, address: string, what: string): Promise<string> {
  const parsed = parseListenAddress(address);
  if (parsed === undefined) {
    return Promise.reject(new RouterError(`Cannot listen for ${what}: "${address}" is not host:port.`, "Write it as 127.0.0.1:8080 or [::1]:8080."));
  }
  return new Promise<string>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (error.code === "EADDRINUSE") reject(new PortInUseError(what, address));
      else reject(new RouterError(`Cannot listen for ${what} on ${address}: ${error.message}.`, "Check the address in flip.yaml.", { cause: error }));
    };
    const onListening = () => {
      server.off("error", onError);
      const bound = server.address() as AddressInfo;
      resolve(formatAddress(bound.address, bound.port));
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(parsed.port, parsed.host);
  });
}

/** Stops accepting connections; resolves when every connection has closed. */
export function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
