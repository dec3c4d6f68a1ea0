// node migrate.js <expand|contract> <version> — the commands Flip runs (migrations: in flip.yaml).
// Applies every step up to the version's schema in one transaction, so a failure changes nothing.
// Reads DATABASE_URL. Each step is idempotent: running it twice is harmless.
import pg from "pg";
import { stepsFor } from "./schema.js";

const [kind, version] = process.argv.slice(2);
if ((kind !== "expand" && kind !== "contract") || !version) {
  console.error("usage: node migrate.js <expand|contract> <version>");
  process.exit(2);
}

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
try {
  await client.connect();
  await client.query("BEGIN");
  const steps = stepsFor(kind, version);
  for (const step of steps) {
    console.log(`${kind} ${step.name}: ${step.sql.split("\n")[0].trim()}`);
    await client.query(step.sql);
  }
  await client.query("COMMIT");
  console.log(`${kind} for ${version}: ${steps.length} step${steps.length === 1 ? "" : "s"} applied`);
} catch (error) {
  console.error(`${kind} for ${version} failed: ${error.message}`);
  await client.query("ROLLBACK").catch(() => {});
  process.exitCode = 1;
} finally {
  await client.end().catch(() => {});
}
