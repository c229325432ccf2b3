/**
 * The on-demand restore into a Secrets Manager secret without dbname (an RDS-managed master user
 * secret): refused in one line naming `--target`, before any connection, never restored into the
 * server's `postgres` database.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";
import { seedShop } from "./helpers/backup-fixtures";
import { freePort } from "./helpers/free-port";
import { createTestDatabase, PG_HOST, PG_USER } from "./helpers/pg";
import { restoreBench, restoreBucket, type TestDb } from "./helpers/restore";
import type { TestS3 } from "./helpers/s3";
import { setSdkEnv, startSecretsManager, type SecretsManagerStandIn } from "./helpers/secrets-manager";
import { failure } from "./helpers/task-failure";

const MASTER = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/master-AbCdEf";

let s3: TestS3;
let sm: SecretsManagerStandIn;
let app: TestDb;
let env: Record<string, string | undefined>;
let restoreSdkEnv: () => void = () => undefined;
const { restore } = restoreBench("rsd", () => env);

beforeAll(async () => {
  ({ s3, env } = await restoreBucket());
  app = await createTestDatabase("rsd_app");
  await seedShop(app.name, 20);
  await runTask(backupTask, { ...env, DATABASE_URL: app.url, COMPRESSION: "none" });
  // Nothing listens on the secret's port: a restore that connected at all would fail on that instead.
  sm = await startSecretsManager({ [MASTER]: JSON.stringify({ host: PG_HOST, port: await freePort(), username: PG_USER, password: "x" }) });
  restoreSdkEnv = setSdkEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url, AWS_ACCESS_KEY_ID: "AKIDTESTDB", AWS_SECRET_ACCESS_KEY: "test-secret-access-key", AWS_REGION: "us-east-1" });
});

afterAll(async () => {
  restoreSdkEnv();
  await sm?.close();
  await app?.drop();
  await s3?.stop();
  vi.restoreAllMocks();
});

describe("restore --target <secret without dbname>", () => {
  it("is refused in one line naming --target and the secret", async () => {
    const err = await failure(restore({ database: app.name, target: MASTER }));
    expect(err.message).toBe(
      `--target: secret ${MASTER} holds no dbname and no database name is configured; name the database with a postgres:// URL as --target, or add dbname to the secret`,
    );
  });
});
