// users: the app of the expand/contract example. Both versions share one PostgreSQL database
// (DATABASE_URL); what a version reads and writes follows its schema generation (schema.js):
// - v1 writes and reads users.name;
// - v2 reads users.full_name and writes both columns, so v1 can still read what v2 wrote after a
//   rollback. Once v2's contract has dropped users.name, v2 writes full_name alone.
// GET / adds a user and lists the newest ones: every request both writes and reads.
import http from "node:http";
import pg from "pg";
import { generationOf } from "./schema.js";

const version = process.env.APP_VERSION || "v1";
const generation = generationOf(version);
const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT ?? 3000);
const SHUTDOWN_DEADLINE_MS = 4_000;
const UNDEFINED_COLUMN = "42703";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
pool.on("error", (error) => console.error(`users ${version}: idle database connection failed: ${error.message}`));

/** v2 only: whether users.name is still there to be written (until the contract drops it). */
let writesName = true;

async function addUser(name) {
  if (generation < 2) {
    await pool.query("INSERT INTO users (name) VALUES ($1)", [name]);
    return;
  }
  if (writesName) {
    try {
      await pool.query("INSERT INTO users (name, full_name) VALUES ($1, $1)", [name]);
      return;
    } catch (error) {
      if (error.code !== UNDEFINED_COLUMN) throw error;
      // The contract ran: users.name is gone, and only full_name needs writing from now on.
      writesName = false;
      console.log(`users ${version}: users.name is gone (contracted); writing full_name only`);
    }
  }
  await pool.query("INSERT INTO users (full_name) VALUES ($1)", [name]);
}

async function newestUsers() {
  const column = generation < 2 ? "name" : "full_name";
  const result = await pool.query(`SELECT id, ${column} AS name FROM users ORDER BY id DESC LIMIT 5`);
  return result.rows;
}

let requests = 0;
let shuttingDown = false;

const server = http.createServer(async (request, response) => {
  response.setHeader("x-flip-version", version);
  if (shuttingDown) response.setHeader("connection", "close");
  const url = new URL(request.url ?? "/", "http://users");
  try {
    if (url.pathname === "/health") {
      await pool.query("SELECT 1");
      return sendJson(response, 200, { status: "ok" });
    }
    if (url.pathname === "/api/status") return sendJson(response, 200, { app: "users", version, generation, writesName: generation >= 2 ? writesName : true });
    if (url.pathname === "/") {
      requests += 1;
      await addUser(`user ${requests} of ${version} (${process.pid})`);
      return sendJson(response, 200, { version, users: await newestUsers() });
    }
    return sendJson(response, 404, { error: `no route ${url.pathname}` });
  } catch (error) {
    console.error(`users ${version}: ${request.method} ${url.pathname} failed: ${error.message}`);
    return sendJson(response, 500, { error: error.message, code: error.code });
  }
});

function sendJson(response, status, body) {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

server.on("error", (error) => {
  console.error(`users ${version}: cannot listen on ${host}:${port}: ${error.message}`);
  process.exit(1);
});
server.listen(port, host, () => console.log(`users ${version} listening on http://${host}:${server.address().port} (pid ${process.pid})`));

// Stop accepting, let requests in flight finish, close the pool, exit.
function shutDown() {
  if (shuttingDown) return;
  shuttingDown = true;
  server.close(() => {
    pool.end().finally(() => process.exit(0));
  });
  server.closeIdleConnections();
  setInterval(() => server.closeIdleConnections(), 50).unref();
  setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS).unref();
}
process.on("SIGTERM", shutDown);
process.on("SIGINT", shutDown);
