/**
 * Credentials in endpoint URLs never leak: the regime config refuses a user name or password and
 * credential query parameters (one line, the key path, pointing to headersSecretArn, never the
 * password); the health-check task refuses userinfo (settings and --url), refuses query tokens in
 * Lambda, and redacts every URL it prints (result, failure line, logs, the Endpoint dimension, a
 * redirect's Location), checked on its real stdout and stderr against a server on 127.0.0.1.
 */
import { execFile } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateRegime } from "../regime/load";
import { healthCheckTask } from "../tasks/health-check";
import { checkAll } from "../tasks/health-check/check";
import { healthCheckCli } from "../tasks/health-check/cli";
import { healthCheckSettings, type EndpointInput } from "../tasks/health-check/settings";
import { parseSettings, runTask } from "../tasks/lib/runtime";
import { captureEmf } from "./helpers/emf";
import { isCredentialParam, redactText, redactUrl, urlCredentialProblem } from "../tasks/lib/url-credentials";

const PASSWORD = "S3cretPassw0rd";
const TOKEN = "tok-9f8e7d6c5b4a";
let base = "";
let server: http.Server;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.startsWith("/relative-redirect")) {
      res.writeHead(301, { location: `/login?access_token=${TOKEN}` });
      return void res.end();
    }
    if (req.url?.startsWith("/redirect")) {
      res.writeHead(302, { location: `https://admin:${PASSWORD}@login.example.com/sso?next=%2F&access_token=${TOKEN}` });
      return void res.end();
    }
    if (req.url?.startsWith("/fail")) {
      res.statusCode = 500;
      return void res.end(`internal error for ${req.url}`);
    }
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("the regime config refuses credentials in endpoint URLs", () => {
  const refusal = (url: string) => {
    try {
      validateRegime({ name: "prod", endpoints: { checks: [{ name: "api", url: "https://ok.example.com/health" }, { name: "admin", url }] } });
      return "accepted";
    } catch (err) {
      return (err as Error).message;
    }
  };
  const HINT = 'put the credential in a Secrets Manager secret as a request header ({"Authorization": "Basic ..."}) and set headersSecretArn';

  it.each([
    ["user and password", `https://admin:${PASSWORD}@app.example.com/health`, "must not carry a user name or password (user:password@host)"],
    ["a token as the user name", `https://${TOKEN}@app.example.com/health`, "must not carry a user name or password (user:password@host)"],
    ["a password with an encoded @", `https://admin:${PASSWORD}%40x@app.example.com/health`, "must not carry a user name or password (user:password@host)"],
    ["?token=", `https://app.example.com/health?token=${TOKEN}`, 'query parameter "token" carries a credential'],
    ["api_key among other parameters", `https://app.example.com/health?verbose=1&api_key=${TOKEN}`, 'query parameter "api_key" carries a credential'],
    ["a presigned URL", `https://bucket.s3.amazonaws.com/health.json?X-Amz-Credential=AKID&X-Amz-Signature=${TOKEN}`, 'query parameter "X-Amz-Credential" carries a credential'],
    ["an access token in the fragment", `https://app.example.com/health#access_token=${TOKEN}`, 'fragment parameter "access_token" carries a credential'],
  ])("%s: one line with the key path, pointing to headersSecretArn, without the secret", (_what, url, reason) => {
    const line = refusal(url);
    expect(line).toBe(`endpoints.checks[1].url: ${reason}: ${HINT}`);
    expect(line).not.toContain(PASSWORD);
    expect(line).not.toContain(TOKEN);
  });

  it("backslashes instead of slashes: refused as no http(s) URL, without the secret", () => {
    const line = refusal(`https:\\\\admin:${PASSWORD}@app.example.com/health`);
    expect(line).toBe("endpoints.checks[1].url: must be an http(s) URL");
  });

  it("URLs without credentials are accepted, parameters included", () => {
    for (const url of ["https://app.example.com/health?verbose=1&format=json", "http://10.0.0.5:8080/_stcore/health", "https://app.example.com/health#top"]) expect(refusal(url)).toBe("accepted");
  });
});

describe("redaction", () => {
  it("redactUrl replaces the whole userinfo and credential values, leaving the rest as written", () => {
    expect(redactUrl(`https://admin:${PASSWORD}@app.example.com/health`)).toBe("https://***@app.example.com/health");
    expect(redactUrl(`https://${TOKEN}@app.example.com/`)).toBe("https://***@app.example.com/");
    expect(redactUrl(`https://app.example.com/h?v=2&token=${TOKEN}&Api-Key=${TOKEN}#x`)).toBe("https://app.example.com/h?v=2&token=***&Api-Key=***#x");
    expect(redactUrl(`https:\\\\admin:${PASSWORD}@app.example.com/h`)).toBe("https://***@app.example.com/h");
    expect(redactUrl("http://127.0.0.1:8080/ok?verbose=1")).toBe("http://127.0.0.1:8080/ok?verbose=1");
    expect(redactUrl(`admin:${PASSWORD}@app.example.com`)).toBe("***@app.example.com");
  });

  it("redactText finds URLs and user:password@ inside error messages (fetch, undici, a Location header)", () => {
    expect(redactText(`TypeError: fetch failed: Request cannot be constructed from a URL that includes credentials: https://admin:${PASSWORD}@app.example.com/health.`)).toBe(
      "TypeError: fetch failed: Request cannot be constructed from a URL that includes credentials: https://***@app.example.com/health.",
    );
    expect(redactText(`getaddrinfo ENOTFOUND app.example.com (GET "http://u:${PASSWORD}@app.example.com/x?sig=${TOKEN}")`)).toBe('getaddrinfo ENOTFOUND app.example.com (GET "http://***@app.example.com/x?sig=***")');
    expect(redactText(`redis connect admin:${PASSWORD}@cache:6379 refused`)).toBe("redis connect ***@cache:6379 refused");
    expect(redactText("connect ECONNREFUSED 127.0.0.1:8080")).toBe("connect ECONNREFUSED 127.0.0.1:8080");
  });

  it("credential parameter names, and names that are not", () => {
    expect(["token", "access_token", "api_key", "apiKey", "X-Amz-Signature", "client_secret", "password", "sig", "key", "auth", "jwt"].filter((n) => !isCredentialParam(n))).toEqual([]);
    expect(["verbose", "format", "v", "next", "state", "page", "keyword"].filter(isCredentialParam)).toEqual([]);
    expect(urlCredentialProblem("https://app.example.com/?keyword=x", "hint")).toBeUndefined();
  });
});

/** `npm run task -- health-check ARGS` as a child process. */
const cli = (args: string[], env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const tsx = path.resolve(__dirname, "..", "node_modules", ".bin", "tsx");
    execFile(tsx, ["tasks/cli.ts", "health-check", ...args], { cwd: path.resolve(__dirname, ".."), env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });

describe("the health-check task", () => {
  const refusal = (endpoints: unknown, extra: Record<string, string> = {}) => {
    try {
      parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints), ...extra });
      return "accepted";
    } catch (err) {
      return (err as Error).message;
    }
  };

  it("refuses userinfo in ENDPOINTS anywhere, and a query token in Lambda, naming the key and never the secret", () => {
    expect(refusal([{ url: `${base}/ok` }, { url: `https://admin:${PASSWORD}@app.example.com/health` }])).toBe(
      "invalid setting ENDPOINTS[1].url: must not carry a user name or password (user:password@host): give the credential as a request header: headersSecretArn (or headers, --header, on the command line)",
    );
    expect(refusal([{ url: `${base}/ok?token=${TOKEN}` }], { AWS_LAMBDA_FUNCTION_NAME: "shop-health-task" })).toBe(
      'invalid setting ENDPOINTS[0].url: query parameter "token" carries a credential: in an environment variable it is refused in Lambda; use headersSecretArn',
    );
    expect(refusal([{ url: `${base}/ok?token=${TOKEN}` }])).toBe("accepted");
  });

  it("--url with a password is refused (exit 2) with the URL redacted in the line", () => {
    expect(() => healthCheckCli({ url: [`https://admin:${PASSWORD}@app.example.com/health`] })).toThrow(
      '--url: "https://***@app.example.com/health" must not carry a user name or password (user:password@host): give the credential as a request header: --header "Authorization: Basic ..." or --headers-secret-arn',
    );
    expect(() => healthCheckCli({ url: [`admin:${PASSWORD}@app.example.com`] })).toThrow('--url: "***@app.example.com" must not carry a user name or password');
  });

  it("the Endpoint dimension of the metrics (the URL when no name is given) is redacted", async () => {
    const emf = await captureEmf(() =>
      runTask(healthCheckTask, { ENDPOINTS: JSON.stringify([{ url: `${base}/ok?token=${TOKEN}` }]), POWERTOOLS_DEV: "false" }),
    );
    const dims = emf.filter((m) => m.Endpoint !== undefined).map((m) => m.Endpoint);
    // EndpointUp (the down alarm's metric) always; response time only where an alarm reads it.
    expect(dims).toEqual([`${base}/ok?token=***`]);
    expect(JSON.stringify(emf)).not.toContain(TOKEN);
  });

  it("a redirect whose Location carries credentials is reported redacted, judged itself or followed", async () => {
    const endpoints: EndpointInput[] = [
      { name: "sso", url: `${base}/redirect`, followRedirects: false },
      { name: "relative", url: `${base}/relative-redirect`, followRedirects: false },
      { name: "sso-followed", url: `${base}/redirect`, timeoutMs: 3000 },
      { name: "relative-followed", url: `${base}/relative-redirect` },
    ];
    const { results } = await checkAll(parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints) }), new AbortController().signal);
    expect(results[0].failures).toEqual(["status 302 != 200 (redirect to https://***@login.example.com/sso?next=%2F&access_token=***, not followed: followRedirects is false)"]);
    // A relative Location is shown absolute, its token redacted too.
    expect(results[1].failures).toEqual([`status 301 != 200 (redirect to ${base}/login?access_token=***, not followed: followRedirects is false)`]);
    // Followed: the chain in the failure line and in redirects, redacted.
    expect(results[2].failures).toEqual([expect.stringMatching(/ \(after redirects: http:\/\/127\.0\.0\.1:\d+\/redirect -> https:\/\/\*\*\*@login\.example\.com\/sso\?next=%2F&access_token=\*\*\*\)$/)]);
    expect(results[2].redirects).toEqual(["https://***@login.example.com/sso?next=%2F&access_token=***"]);
    expect(results[3].redirects).toEqual([`${base}/login?access_token=***`]);
    expect(results[3]).toMatchObject({ healthy: true, status: 200 });
    expect(JSON.stringify(results)).not.toContain(PASSWORD);
    expect(JSON.stringify(results)).not.toContain(TOKEN);
  });

  it("on the command line: no password or token in stdout or stderr (result, failure line, logs, metrics), for a refused URL, a query token and a redirect", async () => {
    const [userinfo, token, redirect] = await Promise.all([
      cli(["--url", `${base.replace("://", `://admin:${PASSWORD}@`)}/ok`]),
      cli(["--url", `${base}/fail?token=${TOKEN}`, "--url", `${base}/ok?api_key=${TOKEN}`]),
      cli(["--url", `${base}/redirect`, "--name", "sso"]),
    ]);
    expect(userinfo.code).toBe(2);
    expect(userinfo.stderr.trim().split("\n").at(-1)).toBe(
      `error: --url: "http://***@${base.slice(7)}/ok" must not carry a user name or password (user:password@host): give the credential as a request header: --header "Authorization: Basic ..." or --headers-secret-arn`,
    );
    expect(token.code).toBe(1);
    const result = JSON.parse(token.stdout.trim().split("\n").at(-1)!);
    expect(result.results.map((r: { name: string; url: string; healthy: boolean }) => [r.name, r.url, r.healthy])).toEqual([
      [`${base}/fail?token=***`, `${base}/fail?token=***`, false],
      [`${base}/ok?api_key=***`, `${base}/ok?api_key=***`, true],
    ]);
    expect(token.stderr.trim().split("\n").at(-1)).toBe(`error: health-check failed: 1 of 2 endpoints unhealthy: ${base}/fail?token=*** (status 500 != 200)`);
    expect(token.stderr).toContain(`"endpoint": "${base}/fail?token=***"`);
    expect(redirect.code).toBe(1);
    expect(redirect.stderr).toContain("-> https://***@login.example.com/sso");
    for (const run of [userinfo, token, redirect]) {
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      expect(run.stdout + run.stderr).not.toContain(TOKEN);
    }
  });
});
