// Real node:http upstreams on 127.0.0.1 port 0 for the proxy and router tests. Every server is
// closed hard (open keep-alive connections included) so a failed test cannot leave one behind.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Endpoint, Slot } from "../../core/slots.js";

export interface TestUpstream {
  port: number;
  url: string;
  /** Requests received so far. */
  readonly received: number;
  endpoint(slot: Slot, replica?: number): Endpoint;
  close(): Promise<void>;
}

export async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestUpstream> {
  let received = 0;
  const server = createServer((req, res) => {
    received += 1;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    get received() {
      return received;
    },
    endpoint: (slot, replica = 0) => ({ slot, replica, host: "127.0.0.1", port, url }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An upstream that answers every request with `text` (e.g. its slot name). */
export function startTextUpstream(text: string): Promise<TestUpstream> {
  return startUpstream((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(text);
  });
}

/** Closes everything in `items`, even when some of it fails, then empties the list. */
export async function closeAll(items: { close(): Promise<void> }[]): Promise<void> {
  const closing = items.splice(0).map((item) => item.close());
  await Promise.allSettled(closing);
}
