// The floor for a Node proxy, as a reference row of bench:proxy: a node:http server forwarding
// through one undici Pool with a raw dispatch handler. No header rewriting, no counters, no retry,
// no client-abort handling: the cheapest a Node proxy can be, so Flip's cost is read against it in
// the same round rather than against a figure measured some other day.
//
//   node dist/bench/dispatch-floor.js --listen 127.0.0.1:8082 --target 127.0.0.1:9001
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { Pool, type Dispatcher } from "undici";
import { parseListenAddress } from "../src/config/fields.js";

const { values } = parseArgs({ options: { listen: { type: "string" }, target: { type: "string" } } });
const listen = parseListenAddress(values.listen ?? "");
if (listen === undefined || values.target === undefined) {
  process.stderr.write("usage: dispatch-floor.js --listen host:port --target host:port\n");
  process.exit(2);
}

// The same pool settings as Flip's (upstream.ts): more connections than requests in flight, no pipelining.
const pool = new Pool(`http://${values.target}`, { connections: 128, pipelining: 1 });

/** The same (non-deprecated) handler API as Flip's Exchange, so the gap between the two rows is Flip's own work. */
class Forward implements Dispatcher.DispatchHandler {
  constructor(private readonly res: ServerResponse) {}

  onRequestStart(): void {}

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    this.res.writeHead(statusCode, (controller.rawHeaders as Buffer[]).map((field) => field.toString("latin1")));
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.res.write(chunk);
  }

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(): void {
    if (this.res.headersSent) this.res.destroy();
    else this.res.writeHead(502).end();
  }
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  pool.dispatch({ method: req.method ?? "GET", path: req.url ?? "/", headers: req.rawHeaders, body: null }, new Forward(res));
});
server.listen(listen.port, listen.host);

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
