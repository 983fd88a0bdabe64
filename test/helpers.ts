/** Shared test helpers: fixture paths, temporary folders, job construction with captured output. */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, expect } from "vitest";
import { Database } from "../src/data/database.js";
import { MlbatchError } from "../src/errors.js";
import { InferenceJob, InferenceJobConfig } from "../src/jobs/inference.js";
import { AlertsService } from "../src/services/alerts.js";
import { LoggerService } from "../src/services/logger.js";
import { MlflowService } from "../src/services/mlflow.js";

export const ROOT = resolve(import.meta.dirname, "..");
export const BIKES = join(ROOT, "examples", "bikes");
export const INPUTS_TEST = join(BIKES, "data", "inputs_test.parquet");
export const REGISTRIES = join(ROOT, "test", "fixtures", "registries");
/** The four fixture stores: MLflow 2.x and 3.x, SQLite and file store. */
export const STORES = {
  "mlflow2-sqlite": `sqlite:///${join(REGISTRIES, "mlflow2-sqlite", "mlflow.db")}`,
  "mlflow2-file": join(REGISTRIES, "mlflow2-file", "mlruns"),
  "mlflow3-sqlite": `sqlite:///${join(REGISTRIES, "mlflow3-sqlite", "mlflow.db")}`,
  "mlflow3-file": join(REGISTRIES, "mlflow3-file", "mlruns"),
} as const;
export const EXAMPLE_REGISTRY = `sqlite:///${join(BIKES, "mlflow.db")}`;

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = "mlbatch-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

/** Copies a fixture store to a new temporary folder (so its absolute paths point elsewhere). */
export function copyStore(name: keyof typeof STORES): string {
  const target = tempDir("mlbatch-store-copy-");
  cpSync(join(REGISTRIES, name), target, { recursive: true });
  return target;
}

/** Collects what a stream receives. */
export class Capture extends PassThrough {
  private chunks: string[] = [];
  constructor() {
    super();
    this.on("data", (chunk: Buffer) => this.chunks.push(chunk.toString()));
  }
  get text(): string {
    return this.chunks.join("");
  }
  get lines(): string[] {
    return this.text.split("\n").filter((line) => line.length > 0);
  }
}

/** An inference job built from a config object, with its logs (JSON lines) and alerts captured. */
export function inferenceJob(config: Record<string, unknown>) {
  const parsed = InferenceJobConfig.parse({ KIND: "InferenceJob", ...config });
  const logs = new Capture();
  const alerts = new Capture();
  const logger = new LoggerService({ ...parsed.logger_service, serialize: true }, logs);
  const services = {
    logger,
    alerts: new AlertsService(parsed.alerts_service, alerts, { logger: () => logger.logger }),
    mlflow: new MlflowService(parsed.mlflow_service, () => logger.logger),
  };
  const job = InferenceJob.fromConfig(parsed, services);
  return { job, logs, alerts, services };
}

/** Runs SQL on DuckDB in a child-free way: rows of a small query over files. */
export async function query(sql: string): Promise<Record<string, unknown>[]> {
  const db = await Database.create();
  try {
    return await db.rows(sql);
  } finally {
    db.close();
  }
}

/** Runs the built CLI (dist/) in a child process. */
export function cli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const result = spawnSync(process.execPath, [join(ROOT, "bin", "mlbatch.js"), ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The failure a CLI run reported on stderr, once (the job's error log line, JSON or readable, or the
 * CLI's own line when the job had not logged it), as `error [CODE] (step: s): message`.
 */
export function reportedError(stderr: string): string {
  const lines: string[] = [];
  const cliLine = stderr.indexOf("mlbatch: error ");
  // The CLI's line (with the lines of a multi-line message) runs to the end of stderr.
  if (cliLine >= 0) lines.push(stderr.slice(cliLine + "mlbatch: ".length).trimEnd());
  for (const line of stderr.slice(0, cliLine >= 0 ? cliLine : undefined).split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { level: number; code?: string; step?: string; msg: string };
    if (entry.level < 50) continue;
    const step = entry.step === undefined ? "" : ` (step: ${entry.step})`;
    lines.push(`error [${entry.code}]${step}: ${entry.msg}`);
  }
  return lines.join("\n");
}

/**
 * Runs a Python snippet with the test interpreter and returns its stdout. A snippet that aborts (SIGABRT)
 * is run once more: under the full suite's load, pyarrow's reader aborted now and then ("terminate called
 * without an active exception", 2 of 3 fresh-clone CI runs, never alone), a fault of the checking tool,
 * not of what it checks. Any other failure, and a second abort, fails the test.
 */
export function python(interpreter: string, code: string, args: string[] = []): string {
  const run = () => execFileSync(interpreter, ["-c", code, ...args], { encoding: "utf8" });
  try {
    return run();
  } catch (error) {
    if ((error as { signal?: string }).signal !== "SIGABRT") throw error;
    return run();
  }
}

/** The MlbatchError a promise rejects with (fails the test when it resolves or rejects otherwise). */
export async function failure(promise: Promise<unknown>): Promise<MlbatchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MlbatchError);
  return error as MlbatchError;
}

/**
 * A fresh in-memory database and temporary folder for each test of the calling file, handed to `use`
 * before each test, closed and removed after it.
 */
export function eachTest(use: (db: Database, dir: string) => void): void {
  let db: Database | undefined;
  let dir: string | undefined;
  beforeEach(async () => {
    db = await Database.create();
    dir = tempDir();
    use(db, dir);
  });
  afterEach(() => {
    db?.close();
    if (dir !== undefined) removeDir(dir);
  });
}
