// Flip's proxy as the benchmarks run it: a BuiltinRouter in its own process, driven only through the
// public Router API (setTargets, switchTo), so it measures exactly what `flip serve` runs. Optionally
// a tiny control listener: `POST /switch/<slot>` answers once switchTo() has resolved.
//
//   node dist/bench/flip-proxy.js --listen 127.0.0.1:8080 --blue 127.0.0.1:9001 [--green 127.0.0.1:9002]
//                                 [--control 127.0.0.1:8090] [--workers 2]
import { createServer, type Server } from "node:http";
import { parseArgs } from "node:util";
import { systemClock } from "../src/core/clock.js";
import { isSlot, type Endpoint, type Slot } from "../src/core/slots.js";
import { MemoryDriverState } from "../src/core/state.js";
import { parseListenAddress } from "../src/config/fields.js";
import { createLogger } from "../src/logging.js";
import { BuiltinRouter } from "../src/routers/builtin/builtin-router.js";
import { builtinRouterSchema } from "../src/routers/builtin/config.js";

const CLOSE_TIMEOUT_MS = 3000;

function endpoint(slot: Slot, address: string): Endpoint {
  const parsed = parseListenAddress(address);
  if (parsed === undefined) throw new Error(`--${slot} expects host:port, got "${address}"`);
  return { slot, replica: 0, host: parsed.host, port: parsed.port, url: `http://${address}` };
}

/** The router's config through its own schema, so keys added later get their defaults. */
function routerConfig(listen: string, workers: string | undefined) {
  const input: Record<string, unknown> = { kind: "builtin", listen };
  if (workers !== undefined) input.workers = Number(workers);
  const parsed = builtinRouterSchema.safeParse(input);
  if (!parsed.success) throw new Error(`the builtin router refused this config: ${parsed.error.message}`);
  return parsed.data;
}

function startControl(router: BuiltinRouter, address: string): Promise<Server> {
  const parsed = parseListenAddress(address);
  if (parsed === undefined) throw new Error(`--control expects host:port, got "${address}"`);
  const server = createServer((req, res) => {
    const slot = /^\/switch\/(\w+)$/.exec(req.url ?? "")?.[1];
    if (req.method !== "POST" || !isSlot(slot)) {
      res.writeHead(404).end("POST /switch/blue or /switch/green\n");
      return;
    }
    router.switchTo(slot).then(
      () => res.writeHead(200, { "content-type": "text/plain" }).end(`${slot}\n`),
      (error: unknown) => res.writeHead(500).end(`${error instanceof Error ? error.message : String(error)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(parsed.port, parsed.host, () => resolve(server));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: "string" },
      blue: { type: "string" },
      green: { type: "string" },
      live: { type: "string", default: "blue" },
      control: { type: "string" },
      workers: { type: "string" },
    },
  });
  if (values.listen === undefined || values.blue === undefined) throw new Error("--listen and --blue are required");
  if (!isSlot(values.live)) throw new Error(`--live must be blue or green, got "${values.live}"`);

  const logger = createLogger({ level: "error" });
  const router = new BuiltinRouter(routerConfig(values.listen, values.workers), {
    app: "bench",
    logger,
    clock: systemClock,
    state: new MemoryDriverState(),
  });
  await router.setTargets("blue", [endpoint("blue", values.blue)]);
  if (values.green !== undefined) await router.setTargets("green", [endpoint("green", values.green)]);
  await router.start();
  await router.switchTo(values.live);
  const control = values.control === undefined ? undefined : await startControl(router, values.control);

  const stop = () => {
    // Bounded: a benchmark that cannot stop its proxy must still end.
    setTimeout(() => process.exit(0), CLOSE_TIMEOUT_MS).unref();
    control?.closeAllConnections();
    control?.close();
    router.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.stdout.write(`flip proxy listening on ${router.listenAddresses().listen}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`flip-proxy: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
