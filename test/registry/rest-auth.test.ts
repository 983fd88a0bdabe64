/** Auth and TLS as MLflow's client does them, against a live `mlflow server` behind checking proxies; secrets never leak. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { removeDir, tempDir } from "../helpers.js";
import { failing, type JobRun, mlflowService, runJob, stack, succeeding } from "./rest-helpers.js";
import { FaultProxy } from "./rest-proxy.js";

const USER = "alice";
const PASSWORD = "pw-Xq7!basic-secret-913";
const TOKEN = "tok-bearer-secret-5f2c81";
const URI_PASSWORD = "uri-secret-pw-77";
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
const VARIABLES = [
  "MLFLOW_TRACKING_USERNAME",
  "MLFLOW_TRACKING_PASSWORD",
  "MLFLOW_TRACKING_TOKEN",
  "MLFLOW_TRACKING_INSECURE_TLS",
  "MLFLOW_TRACKING_SERVER_CERT_PATH",
  "MLFLOW_TRACKING_CLIENT_CERT_PATH",
];

let dir: string;
beforeEach(() => {
  dir = tempDir("mlbatch-auth-");
  for (const name of VARIABLES) vi.stubEnv(name, undefined);
});
afterEach(() => {
  vi.unstubAllEnvs();
  removeDir(dir);
});

let jobs = 0;
function job(uri: string, overrides: { alias_or_version?: string | number; name?: string } = {}) {
  return {
    mlflow_service: mlflowService(uri, {
      name: overrides.name ?? "bikes_mlflow2",
      cacheDir: join(dir, "cache"),
    }),
    outputs: join(dir, `predictions-${++jobs}.parquet`),
    ...(overrides.alias_or_version === undefined ? {} : { alias_or_version: overrides.alias_or_version }),
  };
}

describe("Basic and Bearer auth", () => {
  let basic: FaultProxy;
  let bearer: FaultProxy;
  beforeAll(async () => {
    basic = await FaultProxy.start(stack().uri, { authorization: BASIC });
    bearer = await FaultProxy.start(stack().uri, { authorization: `Bearer ${TOKEN}` });
  });
  afterAll(async () => {
    await basic.close();
    await bearer.close();
  });
  beforeEach(() => {
    basic.reset();
    bearer.reset();
  });

  it("given MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, when run, then every request (API and artifacts) carries Basic auth", async () => {
    vi.stubEnv("MLFLOW_TRACKING_USERNAME", USER);
    vi.stubEnv("MLFLOW_TRACKING_PASSWORD", PASSWORD);
    vi.stubEnv("MLFLOW_TRACKING_TOKEN", TOKEN); // the username and password win, as in MLflow
    await succeeding(job(basic.uri));
    expect(basic.count(/mlflow-artifacts/)).toBeGreaterThan(0);
    expect(new Set(basic.seen.map((s) => s.authorization))).toEqual(new Set([BASIC]));
  });

  it("given MLFLOW_TRACKING_TOKEN, when run, then every request carries the Bearer token", async () => {
    vi.stubEnv("MLFLOW_TRACKING_TOKEN", TOKEN);
    await succeeding(job(bearer.uri));
    expect(new Set(bearer.seen.map((s) => s.authorization))).toEqual(new Set([`Bearer ${TOKEN}`]));
  });

  it("given user:password in the tracking URI, when run, then they are sent as Basic auth and shown nowhere", async () => {
    const withPassword = basic.uri.replace("://", `://${USER}:${encodeURIComponent(PASSWORD)}@`);
    const run = await succeeding(job(withPassword));
    expect(new Set(basic.seen.map((s) => s.authorization))).toEqual(new Set([BASIC]));
    expect(run.logs).not.toContain(encodeURIComponent(PASSWORD));
  });

  it("given no credentials, when run, then E_AUTH names the variables to set, without retrying", async () => {
    const run = await failing(job(basic.uri));
    expect(run.error.code).toBe("E_AUTH");
    expect(run.error.message).toContain(
      `MLflow tracking server ${basic.uri} requires authentication (HTTP 401`,
    );
    expect(run.error.message).toContain(
      "Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (Basic auth), or MLFLOW_TRACKING_TOKEN (a bearer token).",
    );
    expect(basic.seen).toHaveLength(1);
  });

  it("given a wrong password, when run, then E_AUTH says which credentials were rejected", async () => {
    vi.stubEnv("MLFLOW_TRACKING_USERNAME", USER);
    vi.stubEnv("MLFLOW_TRACKING_PASSWORD", "wrong-password");
    const run = await failing(job(basic.uri));
    expect(run.error.code).toBe("E_AUTH");
    expect(run.error.message).toContain(
      "rejected the credentials of MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
    );
  });

  it("given credentials without permission (403), when run, then E_AUTH says access was denied", async () => {
    vi.stubEnv("MLFLOW_TRACKING_TOKEN", TOKEN);
    bearer.inject({
      match: /registered-models\/alias/,
      fault: { kind: "status", status: 403, body: "Permission denied" },
    });
    const run = await failing(job(bearer.uri));
    expect(run.error.code).toBe("E_AUTH");
    expect(run.error.message).toContain("denied access");
    expect(run.error.message).toContain(
      "The user of MLFLOW_TRACKING_TOKEN lacks the permission to read this model",
    );
  });

  it("given credentials of every kind, when jobs succeed or fail, then no secret appears in logs, errors or notifications", async () => {
    const closed = await FaultProxy.start(stack().uri);
    const closedUri = closed.uri;
    await closed.close();
    const runs: JobRun[] = [];
    const withEnv = async (env: Record<string, string>, work: () => Promise<JobRun>) => {
      for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
      runs.push(await work());
      for (const name of Object.keys(env)) vi.stubEnv(name, undefined);
    };
    const userPass = { MLFLOW_TRACKING_USERNAME: USER, MLFLOW_TRACKING_PASSWORD: PASSWORD };
    await withEnv(userPass, () => runJob(job(basic.uri)));
    await withEnv(userPass, () => runJob(job(basic.uri, { alias_or_version: "NoSuchAlias" })));
    await withEnv(userPass, () => runJob(job(bearer.uri)));
    await withEnv({ MLFLOW_TRACKING_TOKEN: TOKEN }, () => runJob(job(bearer.uri)));
    await withEnv({ MLFLOW_TRACKING_TOKEN: TOKEN }, () => runJob(job(basic.uri, { name: "nope" })));
    await withEnv({ MLFLOW_TRACKING_TOKEN: TOKEN }, () => runJob(job(closedUri)));
    const inUri = (uri: string) => uri.replace("://", `://${USER}:${URI_PASSWORD}@`);
    await withEnv({}, () => runJob(job(inUri(basic.uri))));
    await withEnv({}, () => runJob(job(inUri(closedUri))));
    await withEnv({}, () => runJob(job(inUri(stack().uri), { alias_or_version: 99 })));

    expect(runs.map((r) => r.error?.code)).toEqual([
      undefined,
      "E_MODEL_NOT_FOUND",
      "E_AUTH",
      undefined,
      "E_AUTH",
      "E_REGISTRY",
      "E_AUTH",
      "E_REGISTRY",
      "E_MODEL_NOT_FOUND",
    ]);
    const secrets = [PASSWORD, encodeURIComponent(PASSWORD), BASIC.slice(6), TOKEN, URI_PASSWORD];
    for (const run of runs) {
      const errors = [];
      for (let e: unknown = run.error; e instanceof Error; e = e.cause)
        errors.push(e.message, String(e.stack));
      const text = [run.logs, run.alerts, ...errors, JSON.stringify(run.locals ?? {})].join("\n");
      expect(run.logs.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});

describe("TLS", () => {
  let certs: string;
  let server: FaultProxy;
  let mutual: FaultProxy;
  beforeAll(async () => {
    certs = tempDir("mlbatch-certs-");
    execFileSync(stack().python, [join("test", "fixtures", "server", "make_cert.py"), certs]);
    const tls = {
      key: readFileSync(join(certs, "key.pem"), "utf8"),
      cert: readFileSync(join(certs, "cert.pem"), "utf8"),
    };
    server = await FaultProxy.start(stack().uri, { tls });
    mutual = await FaultProxy.start(stack().uri, { tls: { ...tls, clientCa: tls.cert } });
  });
  afterAll(async () => {
    await server.close();
    await mutual.close();
    removeDir(certs);
  });

  it("given a self-signed server certificate and no TLS setting, when run, then E_REGISTRY says which variable to set, at once", async () => {
    const run = await failing(job(server.uri));
    expect(run.error.code).toBe("E_REGISTRY");
    expect(run.error.message).toContain(
      `cannot open a TLS connection to MLflow tracking server ${server.uri}`,
    );
    expect(run.error.message).toContain("MLFLOW_TRACKING_SERVER_CERT_PATH");
    expect(run.error.message).toContain("MLFLOW_TRACKING_INSECURE_TLS=true");
    expect(run.lines.filter((l) => l.msg.includes("; retry "))).toEqual([]);
  });

  it("given MLFLOW_TRACKING_SERVER_CERT_PATH, when run, then the certificate is trusted", async () => {
    vi.stubEnv("MLFLOW_TRACKING_SERVER_CERT_PATH", join(certs, "cert.pem"));
    const run = await succeeding(job(server.uri));
    expect(run.locals.shape).toEqual([3476, 2]);
  });

  it("given MLFLOW_TRACKING_INSECURE_TLS=true, when run, then the certificate is not checked", async () => {
    vi.stubEnv("MLFLOW_TRACKING_INSECURE_TLS", "true");
    await succeeding(job(server.uri));
  });

  it("given both TLS settings, when run, then E_CONFIG says they contradict each other", async () => {
    vi.stubEnv("MLFLOW_TRACKING_INSECURE_TLS", "true");
    vi.stubEnv("MLFLOW_TRACKING_SERVER_CERT_PATH", join(certs, "cert.pem"));
    const run = await failing(job(server.uri));
    expect(run.error.code).toBe("E_CONFIG");
    expect(run.error.message).toContain("contradict");
  });

  it("given a server that requires a client certificate, when MLFLOW_TRACKING_CLIENT_CERT_PATH is set or not, then it succeeds or fails clearly", async () => {
    vi.stubEnv("MLFLOW_TRACKING_SERVER_CERT_PATH", join(certs, "cert.pem"));
    const refused = await failing(job(mutual.uri));
    expect(refused.error.code).toBe("E_REGISTRY");
    vi.stubEnv("MLFLOW_TRACKING_CLIENT_CERT_PATH", join(certs, "client.pem"));
    await succeeding(job(mutual.uri));
  });
});
