/** Helpers of the tracking tests: sample runs, MLflow's own Python client to read them back, the live server. */
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, inject } from "vitest";
import type { RunRecord } from "../../src/tracking/index.js";
import { ROOT } from "../helpers.js";

const READ_RUN = join(ROOT, "test", "tracking", "read_run.py");
const SERVE = join(ROOT, "test", "fixtures", "server", "serve.py");

/** A run as MLflow's Python client reads it back (read_run.py). */
export interface ReadRun {
  readonly info: {
    readonly run_id: string;
    readonly run_name: string;
    readonly experiment_id: string;
    readonly user_id: string;
    readonly status: string;
    readonly start_time: number;
    readonly end_time: number | null;
    readonly lifecycle_stage: string;
    readonly artifact_uri: string;
  };
  readonly experiment: {
    readonly experiment_id: string;
    readonly name: string;
    readonly artifact_location: string;
    readonly lifecycle_stage: string;
  };
  readonly params: Record<string, string>;
  readonly metrics: Record<string, number | string>;
  readonly metric_history: Record<string, [number, number | string, number][]>;
  readonly tags: Record<string, string>;
  readonly searched: string[];
  readonly artifacts: Record<string, string>;
}

/** A unique suffix, so that tests sharing a server never see each other's experiments and runs. */
export function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A finished run with the names the job logs, overridable. */
export function sampleRecord(overrides: Partial<RunRecord> = {}): RunRecord {
  const startTime = Date.UTC(2026, 10, 27, 10, 15, 30, 125);
  return {
    experimentName: "bikes",
    runName: unique("mlbatch-inference-test"),
    status: "FINISHED",
    startTime,
    endTime: startTime + 12_345,
    params: {
      model_uri: "models:/bikes@Champion",
      model_version: "2",
      inputs_path: "/data/inputs_test.parquet",
      outputs_path: "/data/predictions_test.parquet",
    },
    metrics: {
      rows_read: 3476,
      rows_written: 3476,
      rows_rejected: 0,
      rows_per_second: 281.57,
      duration_s: 12.345,
    },
    tags: { "mlflow.user": "tester", "mlflow.source.name": "mlbatch", "mlbatch.version": "0.1.0" },
    artifacts: [
      { path: "report.json", content: `${JSON.stringify({ status: "success", rows: 3476 }, null, 2)}\n` },
    ],
    ...overrides,
  };
}

/**
 * The Python with MLflow 3.17.2 (.venv-mlflow, made by test/setup/mlflow-server.ts; in CI given by
 * MLBATCH_TEST_MLFLOW_PYTHON).
 */
export function mlflowPython(): string {
  const python =
    inject("mlflow")?.python ??
    process.env.MLBATCH_TEST_MLFLOW_PYTHON ??
    join(ROOT, ".venv-mlflow", "bin", "python");
  if (!existsSync(python)) {
    throw new Error(
      `no Python with MLflow at ${python}: run the REST registry tests once (they create .venv-mlflow), ` +
        "or set MLBATCH_TEST_MLFLOW_PYTHON",
    );
  }
  return python;
}

/** Reads runs back with MLflow's Python client (read_run.py), in `cwd` (relative URIs are relative to it). */
export function readRuns(
  trackingUri: string,
  runIds: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Record<string, ReadRun> {
  const downloads = mkdtempSync(join(tmpdir(), "mlbatch-read-run-"));
  try {
    const out = execFileSync(mlflowPython(), [READ_RUN, trackingUri, downloads, ...runIds], {
      cwd: options.cwd ?? ROOT,
      env: {
        ...process.env,
        MLFLOW_ALLOW_FILE_STORE: "true",
        MLFLOW_DISABLE_TELEMETRY: "true",
        ...options.env,
      },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return (JSON.parse(out) as { runs: Record<string, ReadRun> }).runs;
  } finally {
    rmSync(downloads, { recursive: true, force: true });
  }
}

/** Reads one run back with MLflow's Python client. */
export function readRun(trackingUri: string, runId: string, options: { cwd?: string } = {}): ReadRun {
  const run = readRuns(trackingUri, [runId], options)[runId];
  if (run === undefined) throw new Error(`read_run.py gave nothing for run ${runId}`);
  return run;
}

/** Runs MLflow's CLI (`python -m mlflow ...`) with the test Python. */
export function mlflowCli(args: string[], cwd: string = ROOT): string {
  return execFileSync(mlflowPython(), ["-m", "mlflow", ...args], {
    cwd,
    env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: "true" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/**
 * The live MLflow tracking server: the test stack of test/setup/mlflow-server.ts when it runs (it starts
 * only for the REST registry tests, and CI gives it), else one started here with the same script
 * (test/fixtures/server/serve.py), for `npx vitest run test/tracking`. Call at the top of a test file.
 */
export function useTrackingServer(): () => { uri: string; noProxyUri: string } {
  let current: { uri: string; noProxyUri: string } | undefined;
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const given = inject("mlflow");
    if (given !== null) {
      current = given;
      return;
    }
    const started = await startStack();
    current = started.stack;
    stop = started.stop;
  }, 300_000);
  afterAll(async () => {
    await stop?.();
  }, 60_000);
  return () => {
    if (current === undefined) throw new Error("the MLflow tracking server is not started");
    return current;
  };
}

async function startStack(): Promise<{
  stack: { uri: string; noProxyUri: string };
  stop: () => Promise<void>;
}> {
  const python = mlflowPython();
  const workdir = mkdtempSync(join(tmpdir(), "mlbatch-tracking-mlflow-"));
  const state = join(workdir, "state.json");
  const log = openSync(join(workdir, "serve.log"), "w");
  const child = spawn(
    python,
    [SERVE, "--workdir", workdir, "--state", state, "--parent-pid", String(process.pid)],
    {
      detached: true,
      stdio: ["ignore", log, log],
    },
  );
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const signal = (name: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, name); // serve.py leads its process group
    } catch {
      // already gone
    }
  };
  const stop = async () => {
    if (!exited) signal("SIGTERM");
    for (let waited = 0; !exited && waited < 15_000; waited += 100) await sleep(100);
    signal("SIGKILL");
    rmSync(workdir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 280_000;
  while (!existsSync(state)) {
    if (exited || Date.now() > deadline) {
      const tail = readFileSync(join(workdir, "serve.log"), "utf8").slice(-3000);
      await stop();
      throw new Error(`the MLflow test stack did not start:\n${tail}`);
    }
    await sleep(250);
  }
  const env = JSON.parse(readFileSync(state, "utf8")) as Record<string, string>;
  return {
    stack: { uri: env.MLBATCH_TEST_MLFLOW_URI!, noProxyUri: env.MLBATCH_TEST_MLFLOW_NO_PROXY_URI! },
    stop,
  };
}

/** A port of 127.0.0.1 nothing listens on (just released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
