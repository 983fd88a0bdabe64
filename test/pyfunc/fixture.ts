/**
 * The pyfunc tests' models and runs: the MLflow 2 store committed in test/fixtures/pyfunc/mlflow2, the
 * MLflow 3 store made at test time by test/fixtures/pyfunc/make_models.py (cached in the temp folder under
 * the digest of the scripts), MLflow's own predictions of a model, and the example job run in a child
 * process that a test can signal.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { withLock } from "../../src/models/pyfunc/lock.js";
import { INPUTS_TEST, ROOT, tempDir } from "../helpers.js";

const run = promisify(execFile);
const FIXTURES = join(ROOT, "test", "fixtures", "pyfunc");
const MAKE = join(FIXTURES, "make_models.py");

/** The Python with MLflow 3 the workers run in the tests (env_manager local). */
export const WORKER_PYTHON =
  process.env.MLBATCH_TEST_MLFLOW_PYTHON ?? join(ROOT, ".venv-mlflow", "bin", "python");

/** A store of the fixture models: its folder and its tracking URI. */
export interface Store {
  readonly name: "mlflow2" | "mlflow3";
  readonly dir: string;
  readonly uri: string;
}

export const MLFLOW2: Store = {
  name: "mlflow2",
  dir: join(FIXTURES, "mlflow2"),
  uri: join(FIXTURES, "mlflow2", "mlruns"),
};

/** The MLflow 3 store, made once per version of the scripts (about 20 s). */
export async function mlflow3(): Promise<Store> {
  const digest = createHash("sha256")
    .update(readFileSync(MAKE))
    .update(readFileSync(join(FIXTURES, "code", "bikes_custom.py")))
    .update(WORKER_PYTHON)
    .digest("hex")
    .slice(0, 12);
  const dir = join(tmpdir(), `mlbatch-pyfunc-mlflow3-${digest}`);
  await withLock(`${dir}.lock`, async () => {
    if (existsSync(join(dir, "models.json"))) return;
    await run(WORKER_PYTHON, [MAKE, "make", dir], { timeout: 300_000, maxBuffer: 2 ** 26 });
  });
  return { name: "mlflow3", dir, uri: `sqlite:///${join(dir, "mlflow.db")}` };
}

/** The folder of a registered fixture model. */
export function folderOf(store: Store, model: string): string {
  const folders = JSON.parse(readFileSync(join(store.dir, "models.json"), "utf8")) as Record<string, string>;
  return join(store.dir, folders[model]!);
}

/** `mlflow.pyfunc.load_model(folder).predict(df)` on the test inputs, as a Parquet file of columns. */
export async function mlflowPredictions(store: Store, model: string, dir: string): Promise<string> {
  const out = join(dir, `expected-${store.name}-${model}.parquet`);
  await run(WORKER_PYTHON, [MAKE, "predict", folderOf(store, model), INPUTS_TEST, out], {
    timeout: 300_000,
    maxBuffer: 2 ** 26,
  });
  return out;
}

/** A run of the example job in a child process: its exit, its output so far, and the child. */
export interface JobRun {
  readonly pid: number;
  readonly done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
  /** Resolves once stdout + stderr contain `text`. */
  saw(text: string): Promise<void>;
}

/** Runs the example job on a fixture model with the given loader options and job extras (JSON). */
export function runJob(
  store: Store,
  model: string,
  out: string,
  options: { loader?: Record<string, unknown>; job?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {},
): JobRun {
  const conf = join(ROOT, "examples", "flavors", "confs", "inference.yaml");
  const extras = {
    job: {
      outputs: { path: out },
      mlflow_service: { tracking_uri: store.uri, registry_uri: store.uri, registry_name: model },
      loader: { KIND: "CustomLoader", pyfunc: "auto", python: WORKER_PYTHON, workers: 1, ...options.loader },
      ...options.job,
    },
  };
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin", "mlbatch.js"), "run", conf, "-e", JSON.stringify(extras)],
    {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let text = "";
  let stdout = "";
  let stderr = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  const seen = () => {
    for (const w of waiters.splice(0))
      if (text.includes(w.text)) w.resolve();
      else waiters.push(w);
  };
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    text += chunk.toString();
    seen();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    text += chunk.toString();
    seen();
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    pid: child.pid!,
    done,
    saw: (wanted) =>
      new Promise<void>((resolve, reject) => {
        if (text.includes(wanted)) return resolve();
        waiters.push({ text: wanted, resolve });
        void done.then(() => reject(new Error(`the job ended without printing "${wanted}":\n${text}`)));
      }),
  };
}

/** The ids of the processes whose parent is `pid` (from /proc). */
export function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Whether a process of that id is there (and not a zombie). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Waits until none of the processes is there, up to `ms`; returns those still there. */
export async function gone(pids: readonly number[], ms = 10_000): Promise<number[]> {
  const until = Date.now() + ms;
  for (;;) {
    const left = pids.filter(running);
    if (left.length === 0 || Date.now() > until) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { tempDir };

/** The pyfunc zygotes a job's process started: its children running the worker script. */
export function zygotesOf(pid: number): number[] {
  return childrenOf(pid).filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, "utf8").includes("mlbatch_pyfunc_worker.py");
    } catch {
      return false;
    }
  });
}

/** The pyfunc workers a job's process started: what its zygote forked. */
export function workersOf(pid: number): number[] {
  return zygotesOf(pid).flatMap(childrenOf);
}

/** Every Python process of a job's pyfunc tier: its zygote and the workers. */
export function pythonOf(pid: number): number[] {
  return zygotesOf(pid).flatMap((zygote) => [zygote, ...childrenOf(zygote)]);
}
