/**
 * Which database a secretArn database's tasks reach, with a secret in the shape of an RDS-managed
 * master user secret (host, port, username, password: no dbname). `databases[].database` names it;
 * without it the run is refused in one line (never the server's `postgres` database); when the secret
 * names another, the config's wins and the run's connection line names the secret's. DATABASES is
 * what components/database.ts builds from the stack config.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseTaskCommonSettings } from "../components/database";
import { formatPlan } from "../plan/cli";
import { databaseConnections, type Plan } from "../plan/run";
import { validateRegime } from "../regime/load";
import { dbHealthTask, type Check } from "../tasks/db-health";
import { vacuumTask } from "../tasks/maintenance";
import { purgeTask } from "../tasks/purge";
import { runTask } from "../tasks/lib/runtime";
import { captureJsonLines } from "./helpers/emf";
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, PG_USER } from "./helpers/pg";
import { setSdkEnv, startSecretsManager, type SecretsManagerStandIn } from "./helpers/secrets-manager";

const MASTER = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/master-AbCdEf";
const NAMED = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-GhIjKl";

describe("the database name of a secretArn database", () => {
  let sm: SecretsManagerStandIn;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let restoreEnv: () => void = () => undefined;

  /** DATABASES as the component builds it for `database` (unset: undefined), the local server without TLS. */
  const databases = (secretArn: string, database?: string) => {
    const config = validateRegime({ name: "prod", databases: [{ id: "app", secretArn, ...(database !== undefined ? { database } : {}) }] });
    const [target] = JSON.parse(databaseTaskCommonSettings(config.databases[0]).DATABASES) as Record<string, unknown>[];
    return JSON.stringify([{ ...target, sslmode: "disable" }]);
  };

  beforeAll(async () => {
    db = await createTestDatabase("mr_dbname");
    await adminQuery(
      `CREATE TABLE audit_logs (id int PRIMARY KEY, created_at timestamptz NOT NULL);
       INSERT INTO audit_logs SELECT g, now() - g * interval '1 day' FROM generate_series(1, 100) g;`,
      [],
      db.name,
    );
    sm = await startSecretsManager({
      [MASTER]: JSON.stringify({ host: PG_HOST, port: PG_PORT, username: PG_USER, password: "x" }),
      [NAMED]: JSON.stringify({ host: PG_HOST, port: PG_PORT, username: PG_USER, password: "x", dbname: "postgres" }),
    });
    restoreEnv = setSdkEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url, AWS_ACCESS_KEY_ID: "AKIDTESTDB", AWS_SECRET_ACCESS_KEY: "test-secret-access-key", AWS_REGION: "us-east-1" });
  });
  afterAll(async () => {
    restoreEnv();
    await sm?.close();
    await db?.drop();
  });

  it("the component passes databases[].database to every task in DATABASES", () => {
    expect(JSON.parse(databases(MASTER, db.name))).toEqual([{ id: "app", secretArn: MASTER, database: db.name, sslmode: "disable" }]);
  });

  it("with databases[].database, db-health and purge reach the named database and name it", async () => {
    const lines = await captureJsonLines(async () => {
      const health = await runTask(dbHealthTask, { DATABASES: databases(MASTER, db.name), LOG_LEVEL: "INFO" });
      const [d] = health.databases;
      expect([d.database, d.databaseName]).toEqual(["app", db.name]);
      const size = d.report!.checks.find((c: Check) => c.name === "database_size")!;
      expect((size.top as { table: string }[]).map((t) => t.table)).toEqual(["public.audit_logs"]);

      const purged = await runTask(purgeTask, {
        DATABASES: databases(MASTER, db.name),
        PAUSE_MS: "0",
        LOG_LEVEL: "INFO",
        PURGE_RULES: JSON.stringify([{ table: "audit_logs", timestampColumn: "created_at", olderThanDays: 30 }]),
      });
      expect(purged.databases[0]).toMatchObject({ database: "app", databaseName: db.name, status: "done" });
    });
    // Days 1 to 29 (and day 30, less than 30 days old by the run's start) remain.
    expect(Number((await adminQuery<{ n: string }>("SELECT count(*) AS n FROM audit_logs", [], db.name)).rows[0].n)).toBe(29);
    const connected = lines.filter((l) => typeof l.message === "string" && l.message.startsWith("database app: connected to"));
    expect(connected.map((l) => [l.task, l.message, l.databaseName])).toEqual([
      ["db-health", `database app: connected to ${db.name} on ${PG_HOST}:${PG_PORT}`, db.name],
      ["purge", `database app: connected to ${db.name} on ${PG_HOST}:${PG_PORT}`, db.name],
    ]);
  });

  it("with neither the secret's dbname nor databases[].database, the run is refused in one line", async () => {
    for (const run of [() => runTask(dbHealthTask, { DATABASES: databases(MASTER), LOG_LEVEL: "ERROR" }), () => runTask(vacuumTask, { DATABASES: databases(MASTER), LOG_LEVEL: "ERROR" })]) {
      const message = await run().then(
        () => "accepted",
        (err: Error) => err.message,
      );
      expect(message).toBe(
        `database app: secret ${MASTER} holds no dbname and no database name is configured; set databases[app].database in the stack config to the name of the database to connect to`,
      );
    }
  });

  it("databases[].database wins over a differing dbname of the secret, and the run's connection line names the secret's", async () => {
    const lines = await captureJsonLines(async () => {
      const health = await runTask(dbHealthTask, { DATABASES: databases(NAMED, db.name), LOG_LEVEL: "INFO" });
      expect(health.databases[0]).toMatchObject({ database: "app", databaseName: db.name });
      const size = health.databases[0].report!.checks.find((c: Check) => c.name === "database_size")!;
      expect((size.top as { table: string }[]).map((t) => t.table)).toEqual(["public.audit_logs"]);
    });
    const line = lines.find((l) => typeof l.message === "string" && l.message.startsWith("database app: connected to"))!;
    expect([line.message, line.databaseName, line.secretDbname]).toEqual([
      `database app: connected to ${db.name} on ${PG_HOST}:${PG_PORT} (databases[app].database; the secret's dbname postgres not used)`,
      db.name,
      "postgres",
    ]);
  });
});

describe("the plan names where each database's name comes from", () => {
  it("the configured name, iamAuth's, or the secret's dbname read by each run", () => {
    const config = {
      "maintenance-regime:databases": JSON.stringify([
        { id: "app", secretArn: MASTER, database: "shop" },
        { id: "crm", secretArn: NAMED },
        { id: "iam", iamAuth: { host: "h.example.com", user: "maintenance", database: "ledger", resourceId: "db-ABC" } },
      ]),
    };
    const databases = databaseConnections(config);
    expect(databases).toEqual([
      { id: "app", databaseName: "shop", key: "databases[app].database" },
      { id: "crm", databaseName: null, key: "databases[crm].database" },
      { id: "iam", databaseName: "ledger", key: "databases[iam].iamAuth.database" },
    ]);
    const text = formatPlan({ project: "maintenance-regime", stack: "prod", configFile: "Pulumi.prod.yaml", from: "", resourceCount: 0, components: [], calendar: [], alarms: [], cost: { monthlyTotal: 0, components: [], assumptions: [] }, databases, outputs: {} } as unknown as Plan);
    const lines = text.split("\n");
    const at = lines.indexOf("Databases the tasks connect to");
    expect(lines.slice(at + 1, at + 4)).toEqual([
      "  app: shop (databases[app].database)",
      "  crm: the secret's dbname, read by each run (databases[crm].database unset; a secret without dbname fails every run)",
      "  iam: ledger (databases[iam].iamAuth.database)",
    ]);
  });
});
