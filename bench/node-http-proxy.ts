// node-http-proxy, the most used Node reverse proxy, as the benchmark's Node peer: its own process,
// a keep-alive Agent to the upstream (without one it would open a connection per request).
//
//   node dist/bench/node-http-proxy.js --listen 127.0.0.1:8081 --target 127.0.0.1:9001
import { Agent, createServer } from "node:http";
import { parseArgs } from "node:util";
import httpProxy from "http-proxy";
import { parseListenAddress } from "../src/config/fields.js";

const { values } = parseArgs({ options: { listen: { type: "string" }, target: { type: "string" } } });
const listen = parseListenAddress(values.listen ?? "");
if (listen === undefined || values.target === undefined) {
  process.stderr.write("usage: node-http-proxy.js --listen host:port --target host:port\n");
  process.exit(2);
}

const agent = new Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target: `http://${values.target}`, agent });
proxy.on("error", (_error, _req, res) => {
  // res is a Socket for upgrades, which the benchmark does not use.
  if ("writeHead" in res && !res.headersSent) res.writeHead(502).end();
});

const server = createServer((req, res) => proxy.web(req, res));
server.listen(listen.port, listen.host);

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
