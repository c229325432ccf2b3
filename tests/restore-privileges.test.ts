/**
 * A restore run by a role that is neither superuser nor the target's owner (a dedicated restore role,
 * with LOGIN and CREATEDB), against the machine's PostgreSQL and an S3-compatible server: every
 * statement of the backup it may not run (database-level settings, superuser-only settings, event
 * triggers, publications of all tables or of schemas, subscriptions, untrusted extensions, a comment
 * on an extension another role owns, schemas without CREATE on the database or on the schema) is
 * named in one refusal before the target changes; with the target's ownership given to it, the same
 * restore brings back the rows and the search_path setting the application needs.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT } from "./helpers/pg";
import { restoreBench, restoreBucket, type TestDb } from "./helpers/restore";
import type { TestS3 } from "./helpers/s3";
import { failure } from "./helpers/task-failure";

let s3: TestS3;
let env: Record<string, string | undefined>;
const suffix = randomBytes(3).toString("hex");
const restorer = `restorer_${suffix}`;
const subscription = `sub_${suffix}`;
const sources: TestDb[] = [];
const { freshTarget, restore, dropTargets } = restoreBench("rpv", () => env);
const as = (db: TestDb) => `postgres://${restorer}@${PG_HOST}:${PG_PORT}/${db.name}`;
const tables = async (db: string) => (await adminQuery("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')", [], db)).rows[0].n;
const settingsOf = async (db: string) =>
  (await adminQuery("SELECT coalesce(array_to_string(setconfig, ' '), '') AS s FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0", [db])).rows.map((r) => r.s);

async function source(prefix: string, sql: string, settings: string[]): Promise<TestDb> {
  const db = await createTestDatabase(prefix);
  sources.push(db);
  await adminQuery(sql, [], db.name);
  for (const s of settings) await adminQuery(`ALTER DATABASE ${db.name} SET ${s}`);
  await runTask(backupTask, { ...env, DATABASE_URL: db.url, COMPRESSION: "none" });
  return db;
}

beforeAll(async () => {
  ({ s3, env } = await restoreBucket());
  await adminQuery(`CREATE ROLE ${restorer} LOGIN CREATEDB`);
});

afterAll(async () => {
  await dropTargets();
  for (const db of sources) {
    await adminQuery(`ALTER SUBSCRIPTION IF EXISTS ${subscription} DISABLE`, [], db.name).catch(() => undefined);
    await adminQuery(`ALTER SUBSCRIPTION ${subscription} SET (slot_name = NONE)`, [], db.name).catch(() => undefined);
    await adminQuery(`DROP SUBSCRIPTION IF EXISTS ${subscription}`, [], db.name).catch(() => undefined);
    await db.drop();
  }
  await adminQuery(`DROP ROLE IF EXISTS ${restorer}`);
  await s3?.stop();
  vi.restoreAllMocks();
});

describe("a restore role that does not own the target", () => {
  it("is refused before the target changes, naming the database, its owner, the role and the fix; as the owner it restores rows and search_path", async () => {
    const shop = await source("rpvshop", "CREATE SCHEMA app; CREATE TABLE app.orders AS SELECT g AS id FROM generate_series(1, 40) g", ["search_path = app, public"]);
    const target = await freshTarget();
    await adminQuery(`GRANT CREATE ON DATABASE ${target.name} TO ${restorer}`);
    const err = await failure(restore({ database: shop.name, target: as(target), "no-owner": "true" }));
    expect(err.message).toBe(
      `--target 127.0.0.1:5432/${target.name}: the backup's database-level ALTER DATABASE ... SET (search_path) needs the owner of database ${target.name}, postgres, and ${restorer} is no member of it: run the restore as postgres, or first ALTER DATABASE "${target.name}" OWNER TO "${restorer}" (or GRANT "postgres" TO "${restorer}"); nothing was restored`,
    );
    expect(await tables(target.name)).toBe(0);
    expect(await settingsOf(target.name)).toEqual([]);

    await adminQuery(`ALTER DATABASE ${target.name} OWNER TO ${restorer}`);
    const r = await restore({ database: shop.name, target: as(target), "no-owner": "true" });
    expect(r).toMatchObject({ tables: 1, rows: 40 });
    expect(await settingsOf(target.name)).toEqual(["search_path=app, public"]);
  });

  it("names every statement it may not run in one refusal: superuser settings, event triggers, publications, subscriptions, extensions, schemas", async () => {
    const db = await source(
      "rpvall",
      `CREATE SCHEMA s2; CREATE TABLE s2.x (id int); CREATE TABLE public.t (id int);
       CREATE EXTENSION bloom; CREATE EXTENSION citext; COMMENT ON EXTENSION citext IS 'case-insensitive text';
       CREATE FUNCTION public.ddl_log() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
       CREATE EVENT TRIGGER ddl_log_${suffix} ON ddl_command_start EXECUTE FUNCTION public.ddl_log();
       CREATE PUBLICATION everything FOR ALL TABLES; CREATE PUBLICATION of_s2 FOR TABLES IN SCHEMA s2;
       CREATE SUBSCRIPTION ${subscription} CONNECTION 'host=127.0.0.1 dbname=nowhere' PUBLICATION p WITH (connect = false, slot_name = NONE, enabled = false);`,
      ["search_path = s2, public", "log_min_duration_statement = 1000"],
    );
    const target = await freshTarget();
    await adminQuery("CREATE EXTENSION citext", [], target.name);
    const err = await failure(restore({ database: db.name, target: as(target), "no-owner": "true" }));
    const u = `"${restorer}"`;
    expect(err.message.split("; ")).toEqual([
      `--target 127.0.0.1:5432/${target.name}: the backup's database-level ALTER DATABASE ... SET (log_min_duration_statement, search_path) needs the owner of database ${target.name}, postgres, and ${restorer} is no member of it: run the restore as postgres, or first ALTER DATABASE "${target.name}" OWNER TO ${u} (or GRANT "postgres" TO ${u})`,
      `ALTER DATABASE ... SET log_min_duration_statement: only a superuser or a role granted SET on it may set it: GRANT SET ON PARAMETER log_min_duration_statement TO ${u}, or restore as a superuser`,
      `CREATE PUBLICATION everything FOR ALL TABLES, ALTER PUBLICATION of_s2 ADD TABLES IN SCHEMA s2, CREATE SUBSCRIPTION ${subscription}, CREATE EVENT TRIGGER ddl_log_${suffix} need a superuser: restore as one`,
      `CREATE EXTENSION bloom needs a superuser (not a trusted extension): create it in ${target.name} as one first, or restore as one`,
      `COMMENT ON EXTENSION citext needs the extension's owner (postgres) and ${restorer} is no member of it: restore as postgres`,
      `CREATE SCHEMA s2 needs CREATE on database ${target.name}: GRANT CREATE ON DATABASE "${target.name}" TO ${u}`,
      `CREATE PUBLICATION everything, of_s2 needs CREATE on database ${target.name}: GRANT CREATE ON DATABASE "${target.name}" TO ${u}`,
      `objects in schema public need CREATE on it: GRANT CREATE ON SCHEMA "public" TO ${u}`,
      "nothing was restored",
    ]);
    expect(await tables(target.name)).toBe(0);
    expect(await settingsOf(target.name)).toEqual([]);
  });
});
