/**
 * A database target with `secretArn`: the RDS-shape secret is read through the tasks' one way of
 * reading a secret (tasks/lib/secrets.ts) from a Secrets Manager stand-in, and the connection it
 * gives reaches the real PostgreSQL. A missing secret fails with the service's error; a secret of the
 * wrong shape fails in one line naming the target, never quoting the secret.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, resolveConnection } from "../tasks/lib/db";
import { createTestDatabase, PG_HOST, PG_PORT, PG_USER } from "./helpers/pg";
import { setSdkEnv, startSecretsManager, type SecretsManagerStandIn } from "./helpers/secrets-manager";

const ARN = (region: string, name: string) => `arn:aws:secretsmanager:${region}:123456789012:secret:${name}`;
const PASSWORD = "db-secret-pass-9f3";

describe("database target with secretArn", () => {
  let sm: SecretsManagerStandIn;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let restoreEnv: () => void = () => undefined;
  const RDS = ARN("eu-west-1", "app-db-AbCdEf");
  const NOT_JSON = ARN("us-east-1", "app-plain-GhIjKl");
  const NO_PASSWORD = ARN("us-east-1", "app-shape-MnOpQr");

  beforeAll(async () => {
    db = await createTestDatabase("dbsecret");
    sm = await startSecretsManager({
      [RDS]: JSON.stringify({ engine: "postgres", host: PG_HOST, port: PG_PORT, username: PG_USER, password: PASSWORD, dbname: db.name }),
      [NOT_JSON]: PASSWORD,
      [NO_PASSWORD]: JSON.stringify({ host: PG_HOST, username: PG_USER }),
    });
    restoreEnv = setSdkEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url, AWS_ACCESS_KEY_ID: "AKIDTESTDB", AWS_SECRET_ACCESS_KEY: "test-secret-access-key", AWS_REGION: "us-east-1" });
  });
  afterAll(async () => {
    restoreEnv();
    await sm?.close();
    await db?.drop();
  });

  it("connects with the secret's host, user, password and database, reading it in the secret's region", async () => {
    const c = await resolveConnection({ id: "app", secretArn: RDS, sslmode: "disable" }, {});
    expect({ ...c, password: c.password === PASSWORD }).toEqual({ id: "app", host: PG_HOST, port: PG_PORT, user: PG_USER, password: true, database: db.name, sslmode: "disable" });
    const client = await connect(c);
    try {
      expect((await client.query<{ d: string }>("SELECT current_database() AS d")).rows).toEqual([{ d: db.name }]);
    } finally {
      await client.end();
    }
    expect(sm.calls.filter((x) => x.secretId === RDS).map((x) => [x.target, x.scope])).toEqual([["secretsmanager.GetSecretValue", "eu-west-1/secretsmanager"]]);
  });

  it("a missing secret fails with the service's error; a wrong shape names the target without the secret", async () => {
    await expect(resolveConnection({ id: "app", secretArn: ARN("us-east-1", "gone-StUvWx") }, {})).rejects.toThrow(
      expect.objectContaining({ name: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." }),
    );
    const notJson = resolveConnection({ id: "app", secretArn: NOT_JSON }, {});
    await expect(notJson).rejects.toThrow("database app: secret is not JSON in the RDS shape (host, port, username, password, dbname)");
    await expect(resolveConnection({ id: "app", secretArn: NO_PASSWORD }, {})).rejects.toThrow("database app: secret lacks password (RDS shape expected)");
    await notJson.catch((err: Error) => expect(err.message).not.toContain(PASSWORD));
  });
});
