/**
 * A live MLflow stack for the REST registry tests (test/registry/rest*.test.ts): `mlflow server` with proxied
 * artifacts, a second one with `--no-serve-artifacts`, and moto's S3 server, all on 127.0.0.1, with the bikes
 * fixtures registered (test/fixtures/server/serve.py and register.py).
 *
 * - `MLBATCH_TEST_MLFLOW_URI` set (CI starts the stack itself): that stack is used, described by
 *   `MLBATCH_TEST_MLFLOW_NO_PROXY_URI`, `MLBATCH_TEST_S3_ENDPOINT` and `MLBATCH_TEST_MLFLOW_PYTHON`.
 * - Otherwise the stack is started here with `.venv-mlflow/bin/python` (created from
 *   test/fixtures/server/requirements.txt when missing: PyPI is reachable), and stopped after the tests.
 *   It is not started when the test files selected on the command line include no REST test.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { TestProject } from "vitest/node";

/** Where the live MLflow stack is. */
export interface MlflowStack {
  /** `mlflow server --serve-artifacts`, with the fixtures registered. */
  readonly uri: string;
  /** `mlflow server --no-serve-artifacts` on the same backend store. */
  readonly noProxyUri: string;
  /** moto's S3 server (bucket `mlbatch-bikes`; any access key works). */
  readonly s3Endpoint: string;
  /** The Python with mlflow (and moto, boto3). */
  readonly python: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    mlflow: MlflowStack | null;
  }
}

const VENV = resolve(".venv-mlflow");
const REQUIREMENTS = resolve("test", "fixtures", "server", "requirements.txt");
const SERVE = resolve("test", "fixtures", "server", "serve.py");
const READY_TIMEOUT_MS = 300_000;
const STOP_TIMEOUT_MS = 15_000;

function fromEnvironment(): MlflowStack | undefined {
  const env = process.env;
  if (!env.MLBATCH_TEST_MLFLOW_URI) return undefined;
  const missing = [
    "MLBATCH_TEST_MLFLOW_NO_PROXY_URI",
    "MLBATCH_TEST_S3_ENDPOINT",
    "MLBATCH_TEST_MLFLOW_PYTHON",
  ].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new Error(
      `MLBATCH_TEST_MLFLOW_URI is set, but not ${missing.join(", ")} (see serve.py's state file)`,
    );
  }
  return {
    uri: env.MLBATCH_TEST_MLFLOW_URI,
    noProxyUri: env.MLBATCH_TEST_MLFLOW_NO_PROXY_URI!,
    s3Endpoint: env.MLBATCH_TEST_S3_ENDPOINT!,
    python: env.MLBATCH_TEST_MLFLOW_PYTHON!,
  };
}

/** False when the command line selects test files and none of them is a REST registry test. */
function restTestsSelected(project: TestProject): boolean {
  const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
  if (!Array.isArray(filters) || filters.length === 0) return true;
  const restFiles = readdirSync(resolve("test", "registry"))
    .filter((name) => /^rest.*\.test\.ts$/.test(name))
    .flatMap((name) => [join("test", "registry", name), resolve("test", "registry", name)]);
  return filters.some((filter) => restFiles.some((file) => file.includes(filter)));
}

function ensureVenv(): string {
  const python = join(VENV, "bin", "python");
  const works = () => {
    try {
      execFileSync(python, ["-c", "import mlflow, moto"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  if (!works()) {
    if (!existsSync(python)) execFileSync("python3", ["-m", "venv", VENV], { stdio: "inherit" });
    execFileSync(
      python,
      ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS],
      { stdio: "inherit" },
    );
  }
  // Keep the virtual environment out of git, as newer `python -m venv` do.
  writeFileSync(join(VENV, ".gitignore"), "*\n");
  return python;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = fromEnvironment();
  if (given !== undefined || !restTestsSelected(project)) {
    project.provide("mlflow", given ?? null);
    return undefined;
  }
  const python = ensureVenv();
  const workdir = mkdtempSync(join(tmpdir(), "mlbatch-mlflow-"));
  const state = join(workdir, "state.json");
  const log = join(workdir, "serve.log");
  const output = openSync(log, "w");
  const child = spawn(
    python,
    [SERVE, "--workdir", workdir, "--state", state, "--parent-pid", String(process.pid)],
    { detached: true, stdio: ["ignore", output, output] },
  );
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });

  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      signalGroup(child.pid, "SIGTERM");
      for (let waited = 0; !exited && waited < STOP_TIMEOUT_MS; waited += 100) await sleep(100);
    }
    // serve.py leads its process group: whatever is left of the servers goes with it.
    if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
    rmSync(workdir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!existsSync(state)) {
    if (exited || Date.now() > deadline) {
      const tail = readFileSync(log, "utf8").slice(-4000);
      await stop();
      throw new Error(`the MLflow test stack did not start (${exited ? "exited" : "timed out"}):\n${tail}`);
    }
    await sleep(250);
  }
  const env = JSON.parse(readFileSync(state, "utf8")) as Record<string, string>;
  project.provide("mlflow", {
    uri: env.MLBATCH_TEST_MLFLOW_URI!,
    noProxyUri: env.MLBATCH_TEST_MLFLOW_NO_PROXY_URI!,
    s3Endpoint: env.MLBATCH_TEST_S3_ENDPOINT!,
    python: env.MLBATCH_TEST_MLFLOW_PYTHON!,
  });
  return stop;
}
