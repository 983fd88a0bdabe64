/** Runs logged to a live `mlflow server` (3.17.2) through its REST API, checked through that API and MLflow's client. */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import type { RetryPolicy } from "../../src/mlflow/retry-policy.js";
import { LoggerService } from "../../src/services/logger.js";
import { type LogRunOptions, logRun, REQUEST_TAG, type RunRecord } from "../../src/tracking/index.js";
import { Capture } from "../helpers.js";
import { FaultProxy } from "../registry/rest-proxy.js";
import { freePort, readRun, sampleRecord, unique, useTrackingServer } from "./helpers.js";

const server = useTrackingServer();
/** Retries fast, so that fault tests take seconds. */
const FAST: RetryPolicy = { timeout: 5, maxRetries: 3, backoffFactor: 0.05, backoffJitter: 0.05 };
const API = "/api/2.0/mlflow";
const RUNS_CREATE = /\/runs\/create$/;

/** GETs a JSON endpoint of the live server (the verification side: plain fetch, no mlbatch code). */
async function get(path: string, query: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const url = new URL(`${server().uri}${path}`);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  const answer = await fetch(url);
  if (!answer.ok) throw new Error(`GET ${url}: HTTP ${answer.status} ${await answer.text()}`);
  return (await answer.json()) as Record<string, unknown>;
}

interface RestRun {
  info: {
    run_id: string;
    run_name: string;
    status: string;
    start_time: number;
    end_time?: number;
    user_id: string;
  };
  data: {
    params?: { key: string; value: string }[];
    metrics?: { key: string; value: number; timestamp: number; step: number }[];
    tags?: { key: string; value: string }[];
  };
}

async function restRun(runId: string): Promise<RestRun> {
  return (await get(`${API}/runs/get`, { run_id: runId })).run as RestRun;
}

/** The runs of an experiment named so, as `runs/search` gives them. */
async function runsNamed(experimentId: string, runName: string): Promise<string[]> {
  const answer = await fetch(`${server().uri}${API}/runs/search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ experiment_ids: [experimentId], filter: `attributes.run_name = '${runName}'` }),
  });
  const { runs } = (await answer.json()) as { runs?: RestRun[] };
  return (runs ?? []).map((run) => run.info.run_id);
}

const pairs = (entries: { key: string; value: unknown }[] | undefined) =>
  Object.fromEntries((entries ?? []).map(({ key, value }) => [key, value]));

/** Logs with logs captured (JSON lines at TRACE level). */
async function logCaptured(
  uri: string,
  record: RunRecord,
  options: Omit<LogRunOptions, "logger"> = {},
): Promise<{ run?: Awaited<ReturnType<typeof logRun>>; error?: MlbatchError; logs: string }> {
  const capture = new Capture();
  const service = new LoggerService({ level: "TRACE", serialize: true }, capture);
  await service.start();
  try {
    const run = await logRun(uri, record, { http: FAST, env: {}, ...options, logger: service.logger });
    return { run, logs: capture.text };
  } catch (error) {
    if (!(error instanceof MlbatchError)) throw error;
    return { error, logs: capture.text };
  } finally {
    await service.stop();
  }
}

describe("a run logged to the tracking server", () => {
  it("given a new experiment, when a FINISHED run is logged, then the server's API shows the run, its values and report", async () => {
    const record = sampleRecord({ experimentName: unique("mlbatch-tracking") });
    const { run, logs } = await logCaptured(server().uri, record);
    if (run === undefined) throw new Error(`logging failed: ${logs}`);

    const experiment = (
      await get(`${API}/experiments/get-by-name`, { experiment_name: record.experimentName })
    ).experiment as { experiment_id: string; artifact_location: string };
    expect(run.experimentId).toBe(experiment.experiment_id);
    expect(run.artifactUri).toBe(`mlflow-artifacts:/${experiment.experiment_id}/${run.runId}/artifacts`);
    const got = await restRun(run.runId);
    expect(got.info).toMatchObject({
      run_id: run.runId,
      run_name: record.runName,
      status: "FINISHED",
      start_time: record.startTime,
      end_time: record.endTime,
      user_id: "tester",
    });
    expect(pairs(got.data.params)).toEqual(record.params);
    expect(pairs(got.data.metrics)).toEqual(record.metrics);
    expect(got.data.metrics?.every((m) => m.timestamp === record.endTime && m.step === 0)).toBe(true);
    expect(pairs(got.data.tags)).toMatchObject({ ...record.tags, "mlflow.runName": record.runName });
    expect(pairs(got.data.tags)[REQUEST_TAG]).toMatch(/^[0-9a-f]{32}$/);

    const root = `${experiment.experiment_id}/${run.runId}/artifacts`;
    const listing = await get("/api/2.0/mlflow-artifacts/artifacts", { path: root });
    const report = record.artifacts[0]?.content ?? "";
    expect(listing.files).toEqual([
      { path: "report.json", is_dir: false, file_size: Buffer.byteLength(report) },
    ]);
    const download = await fetch(`${server().uri}/api/2.0/mlflow-artifacts/artifacts/${root}/report.json`);
    expect(await download.text()).toBe(report);
    expect(logs).toContain(`[Tracking] Logged run ${run.runId} (FINISHED)`);

    // And MLflow's own client finds the same.
    const read = readRun(server().uri, run.runId);
    expect(read.info.status).toBe("FINISHED");
    expect(read.searched).toEqual([run.runId]);
    expect(read.artifacts).toEqual({ "report.json": report });
  });

  it("given an existing experiment, when a FAILED run is logged, then it joins that experiment with status FAILED", async () => {
    const experimentName = unique("mlbatch-tracking");
    const first = await logRun(server().uri, sampleRecord({ experimentName }), { http: FAST, env: {} });
    const record = sampleRecord({
      experimentName,
      status: "FAILED",
      tags: { "mlflow.user": "tester", "mlbatch.error_code": "E_READ" },
      artifacts: [{ path: "reports/report.json", content: '{"status": "failure"}\n' }],
    });
    const second = await logRun(server().uri, record, { http: FAST, env: {} });
    expect(second.experimentId).toBe(first.experimentId);
    const got = await restRun(second.runId);
    expect(got.info.status).toBe("FAILED");
    expect(got.info.end_time).toBe(record.endTime);
    expect(pairs(got.data.tags)["mlbatch.error_code"]).toBe("E_READ");
    const read = readRun(server().uri, second.runId);
    expect(read.artifacts).toEqual({ "reports/report.json": '{"status": "failure"}\n' });
  });

  it("given a server without proxied artifacts, when a run is logged, then the report is written where its artifact store is", async () => {
    const record = sampleRecord({ experimentName: unique("mlbatch-tracking-direct") });
    const run = await logRun(server().noProxyUri, record, { http: FAST, env: {} });
    // Its artifact store is a folder of this machine: MLflow's client writes there, and so does mlbatch.
    expect(run.artifactUri).toMatch(/^(file:\/\/)?\/.*\/artifacts$/);
    const folder = run.artifactUri.replace(/^file:\/\//, "");
    expect(readFileSync(`${folder}/report.json`, "utf8")).toBe(record.artifacts[0]?.content);
    expect((await restRun(run.runId)).info.status).toBe("FINISHED");
  });
});

describe("a server that is down or refuses", () => {
  const PASSWORD = "pw-tracking-secret-4417";
  const TOKEN = "tok-tracking-secret-8831";

  it("given nothing listening at the URI, when logged, then E_TRACKING says the server is unreachable, without secrets", async () => {
    const port = await freePort();
    const uri = `http://alice:${PASSWORD}@127.0.0.1:${port}`;
    const env = {
      MLFLOW_TRACKING_USERNAME: "alice",
      MLFLOW_TRACKING_PASSWORD: PASSWORD,
      MLFLOW_TRACKING_TOKEN: TOKEN,
    };
    const { error, logs } = await logCaptured(uri, sampleRecord(), { env });
    expect(error?.code).toBe("E_TRACKING");
    expect(error?.message).toContain(`MLflow tracking http://127.0.0.1:${port}`);
    expect(error?.message).toContain("is unreachable: connection refused (ECONNREFUSED)");
    expect(error?.message).toContain("4 tries");
    expect(logs).toContain("retry 3/3");
    for (const text of [error?.message ?? "", logs, String(error?.stack)]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(TOKEN);
    }
  });

  describe("behind an auth-checking proxy", () => {
    let proxy: FaultProxy;
    beforeAll(async () => {
      proxy = await FaultProxy.start(server().uri, {
        authorization: `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`,
      });
    });
    afterAll(() => proxy.close());

    it("given the right credentials in the environment, when logged, then the run is there", async () => {
      const env = { MLFLOW_TRACKING_USERNAME: "alice", MLFLOW_TRACKING_PASSWORD: PASSWORD };
      const record = sampleRecord({ experimentName: unique("mlbatch-tracking-auth") });
      const run = await logRun(proxy.uri, record, { http: FAST, env });
      expect((await restRun(run.runId)).info.run_name).toBe(record.runName);
    });

    it("given a wrong token, when logged, then E_AUTH names the variable and never the token", async () => {
      const { error, logs } = await logCaptured(proxy.uri, sampleRecord(), {
        env: { MLFLOW_TRACKING_TOKEN: TOKEN },
      });
      expect(error?.code).toBe("E_AUTH");
      expect(error?.message).toContain("rejected the credentials of MLFLOW_TRACKING_TOKEN");
      expect(`${error?.message} ${logs}`).not.toContain(TOKEN);
    });
  });
});

describe("faults between mlbatch and the server", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start(server().uri);
  });
  afterAll(() => proxy.close());
  beforeEach(() => proxy.reset());

  it("given runs/create processed but its answer cut, when logged, then the created run is found and used: one run", async () => {
    const experimentName = unique("mlbatch-tracking-faults");
    const setup = await logRun(proxy.uri, sampleRecord({ experimentName }), { http: FAST, env: {} });
    proxy.reset();
    proxy.inject({ match: RUNS_CREATE, fault: { kind: "truncate" }, times: 1 });
    const record = sampleRecord({ experimentName });
    const { run, logs } = await logCaptured(proxy.uri, record);
    expect(proxy.count(RUNS_CREATE)).toBe(1);
    expect(proxy.count(/\/runs\/search$/)).toBe(1);
    expect(run?.experimentId).toBe(setup.experimentId);
    expect(await runsNamed(setup.experimentId, record.runName)).toEqual([run?.runId]);
    expect(logs).toContain(`The server had created run ${run?.runId} before the failure: using it`);
    expect((await restRun(run?.runId ?? "")).info.status).toBe("FINISHED");
  });

  it("given runs/create reset before reaching the server, when logged, then it is checked, created again: one run", async () => {
    const experimentName = unique("mlbatch-tracking-faults");
    proxy.inject({ match: RUNS_CREATE, fault: { kind: "reset" }, times: 1 });
    const record = sampleRecord({ experimentName });
    const { run, logs } = await logCaptured(proxy.uri, record);
    if (run === undefined) throw new Error(`logging failed: ${logs}`);
    expect(proxy.count(RUNS_CREATE)).toBe(2);
    expect(proxy.count(/\/runs\/search$/)).toBe(1);
    expect(await runsNamed(run.experimentId, record.runName)).toEqual([run.runId]);
  });

  it("given a 502 from a gateway on experiments/create, when logged, then the experiment is looked up before creating it again", async () => {
    const experimentName = unique("mlbatch-tracking-faults");
    proxy.inject({ match: /\/experiments\/create$/, fault: { kind: "status", status: 502 }, times: 1 });
    const run = await logRun(proxy.uri, sampleRecord({ experimentName }), { http: FAST, env: {} });
    expect(proxy.count(/\/experiments\/create$/)).toBe(2);
    // get-by-name: once before creating, once to check after the 502
    expect(proxy.count(/\/experiments\/get-by-name\?/)).toBe(2);
    const experiment = (await get(`${API}/experiments/get-by-name`, { experiment_name: experimentName }))
      .experiment as {
      experiment_id: string;
    };
    expect(run.experimentId).toBe(experiment.experiment_id);
  });

  it("given two 503 answers to runs/log-batch, when logged, then it is retried and every value is there", async () => {
    proxy.inject({ match: /\/runs\/log-batch$/, fault: { kind: "status", status: 503 }, times: 2 });
    const record = sampleRecord({ experimentName: unique("mlbatch-tracking-faults") });
    const run = await logRun(proxy.uri, record, { http: FAST, env: {} });
    expect(proxy.count(/\/runs\/log-batch$/)).toBe(3);
    const got = await restRun(run.runId);
    expect(pairs(got.data.params)).toEqual(record.params);
    expect(pairs(got.data.metrics)).toEqual(record.metrics);
  });

  it("given a 503 on runs/create, when logged, then it is retried without a search (the server did not process it)", async () => {
    proxy.inject({ match: RUNS_CREATE, fault: { kind: "status", status: 503 }, times: 1 });
    const record = sampleRecord({ experimentName: unique("mlbatch-tracking-faults") });
    const run = await logRun(proxy.uri, record, { http: FAST, env: {} });
    expect(proxy.count(RUNS_CREATE)).toBe(2);
    expect(proxy.count(/\/runs\/search$/)).toBe(0);
    expect(await runsNamed(run.experimentId, record.runName)).toEqual([run.runId]);
  });

  it("given the artifact upload failing for good, when logged, then E_TRACKING and the run is marked FAILED", async () => {
    proxy.inject({
      match: /\/mlflow-artifacts\/artifacts\/.+\/report\.json$/,
      fault: {
        kind: "status",
        status: 500,
        body: '{"error_code": "INTERNAL_ERROR", "message": "disk full"}',
      },
    });
    const record = sampleRecord({ experimentName: unique("mlbatch-tracking-faults") });
    const { error } = await logCaptured(proxy.uri, record);
    expect(error?.code).toBe("E_TRACKING");
    expect(error?.message).toMatch(/PUT .*\/report\.json failed: HTTP 500: INTERNAL_ERROR: disk full/);
    const experiment = (
      await get(`${API}/experiments/get-by-name`, { experiment_name: record.experimentName })
    ).experiment as { experiment_id: string };
    const [runId] = await runsNamed(experiment.experiment_id, record.runName);
    expect((await restRun(runId ?? "")).info.status).toBe("FAILED");
  });
});

describe("URIs", () => {
  it("given an unsupported tracking URI scheme, when logged, then E_CONFIG says which stores work", async () => {
    const error = await logRun("postgresql://db/mlflow", sampleRecord()).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "E_CONFIG",
      message: expect.stringContaining('"postgresql:" stores'),
    });
  });

  it("given an invalid record (a key MLflow refuses), when logged, then E_TRACKING before any request", async () => {
    const proxy = await FaultProxy.start(server().uri);
    try {
      const error = await logRun(proxy.uri, sampleRecord({ params: { "../escape": "x" } })).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        code: "E_TRACKING",
        message: expect.stringContaining('param "../escape"'),
      });
      expect(proxy.seen).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});
