// The schema of each version, as expand and contract steps (plain SQL, each safe to run again).
// v1 stores a user's name in users.name. v2 moves it to users.full_name:
// - v2's expand adds full_name, backfills it, and keeps the two columns in step for rows that v1
//   still writes (a trigger), so v1 and v2 can both serve while both may get traffic;
// - v2's contract drops users.name, which only v1 reads. Flip runs it only once no slot running v1
//   can get traffic again, and refuses an instant rollback to v1 afterwards.

/** Whether users.name still exists (after v2's contract it does not). */
const HAS_NAME = "EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'users' AND column_name = 'name')";

export const SCHEMA = {
  v1: {
    expand: ["CREATE TABLE IF NOT EXISTS users (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"],
    contract: [],
  },
  v2: {
    expand: [
      "ALTER TABLE users ADD COLUMN IF NOT EXISTS full_name text",
      // Only while users.name exists: after the contract there is nothing left to keep in step.
      `DO $expand$ BEGIN
         IF ${HAS_NAME} THEN
           CREATE OR REPLACE FUNCTION users_sync_names() RETURNS trigger AS $fn$
           BEGIN
             IF NEW.full_name IS NULL THEN NEW.full_name := NEW.name; END IF;
             IF NEW.name IS NULL THEN NEW.name := NEW.full_name; END IF;
             RETURN NEW;
           END $fn$ LANGUAGE plpgsql;
           DROP TRIGGER IF EXISTS users_sync_names ON users;
           CREATE TRIGGER users_sync_names BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION users_sync_names();
           UPDATE users SET full_name = name WHERE full_name IS NULL;
         END IF;
       END $expand$`,
    ],
    contract: ["DROP TRIGGER IF EXISTS users_sync_names ON users", "DROP FUNCTION IF EXISTS users_sync_names()", "ALTER TABLE users DROP COLUMN IF EXISTS name"],
  },
};

/** "v2", "v2.1", "v2-hotfix" → 2: the schema generation a version name belongs to (0 when unknown). */
export function generationOf(version) {
  const match = /^v(\d+)/.exec(version ?? "");
  return match ? Number(match[1]) : 0;
}

/** The steps that bring the schema to `version`'s: every known generation up to it, in order. */
export function stepsFor(kind, version) {
  const generation = generationOf(version);
  return Object.entries(SCHEMA)
    .filter(([name]) => generationOf(name) <= generation)
    .flatMap(([name, steps]) => steps[kind].map((sql) => ({ name, sql })));
}
