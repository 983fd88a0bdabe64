// Faults of the pyfunc tier, with a real model logged by MLflow 2 (test/fixtures/pyfunc: bikes_december raises
// on December rows, the last of the test inputs, and sleeps $MLBATCH_TEST_SLEEP seconds a batch): the job
// fails with the traceback tail and the row range, writes nothing, and leaves no Python process behind.
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { INPUTS_TEST, inferenceJob, removeDir, reportedError } from "../helpers.js";
import { gone, MLFLOW2, pythonOf, runJob, tempDir, WORKER_PYTHON, workersOf, zygotesOf } from "./fixture.js";

const work = tempDir("mlbatch-pyfunc-faults-");
afterAll(() => removeDir(work));
const MODEL = "bikes_december";

/** Waits until the job's workers are up (it predicts), and gives their ids. */
async function workersOnceUp(pid: number, saw: (text: string) => Promise<void>): Promise<number[]> {
  await saw("[Inference] Predict outputs");
  return workersOf(pid);
}

/** Waits until the job's workers are up, and gives the ids of its Python processes: the zygote and the workers. */
async function pythonOnceUp(pid: number, saw: (text: string) => Promise<void>): Promise<number[]> {
  await saw("[Inference] Predict outputs");
  return pythonOf(pid);
}

describe("a pyfunc model that fails", () => {
  it("given a model that raises on some rows, when the job runs, then it fails with the traceback tail and the batch's rows, and writes nothing", async () => {
    const out = join(work, "raises.parquet");
    const job = runJob(MLFLOW2, MODEL, out, { job: { batch_size: 500 } });
    const result = await job.done;
    expect(result.code).toBe(1);
    const error = reportedError(result.stderr);
    expect(error).toContain("E_PREDICT");
    expect(error).toMatch(/the model raised on rows \d+ to \d+ \(0-based, of the rows predicted\)/);
    expect(error).toContain("ValueError: no predictions for December");
    expect(existsSync(out)).toBe(false);
    expect(await gone(workersOf(job.pid))).toEqual([]);
  }, 180_000);

  it("given a worker killed mid-run, when the job runs, then it fails saying the worker died and the rows, and writes nothing", async () => {
    const out = join(work, "killed.parquet");
    const job = runJob(MLFLOW2, MODEL, out, { job: { batch_size: 200 }, env: { MLBATCH_TEST_SLEEP: "1" } });
    const workers = await workersOnceUp(job.pid, job.saw);
    expect(workers).toHaveLength(1);
    process.kill(workers[0]!, "SIGKILL");
    const result = await job.done;
    expect(result.code).toBe(1);
    expect(reportedError(result.stderr)).toMatch(
      new RegExp(
        `E_PREDICT.*pyfunc worker \\(pid ${workers[0]}\\) exited \\(SIGKILL\\) while predicting rows \\d+ to \\d+`,
        "s",
      ),
    );
    expect(existsSync(out)).toBe(false);
  }, 180_000);

  it("given a worker that hangs past loader.timeout, when the job runs, then the worker is killed and the job fails with the rows, writing nothing", async () => {
    const out = join(work, "hung.parquet");
    const job = runJob(MLFLOW2, MODEL, out, { loader: { timeout: 3 }, env: { MLBATCH_TEST_SLEEP: "600" } });
    const python = await pythonOnceUp(job.pid, job.saw);
    const result = await job.done;
    expect(result.code).toBe(1);
    expect(reportedError(result.stderr)).toMatch(
      /E_PREDICT.*gave no answer in 3 s while predicting on rows 0 to \d+ .*it was killed.*Raise loader.timeout/s,
    );
    expect(existsSync(out)).toBe(false);
    expect(await gone(python)).toEqual([]);
  }, 180_000);
});

describe("a zygote that dies before forking its workers", () => {
  it("given a Python killed while it loads the model, when the job runs, then it fails with E_MODEL_LOAD naming the model URI, the signal and the Python's stderr tail", async () => {
    // A Python that runs as the real one for everything but the workers' zygote, which writes to stderr and
    // kills itself, as the kernel's OOM killer would while the model loads.
    const python = join(work, "dies-loading");
    writeFileSync(
      python,
      `#!/bin/sh\ncase "$1" in *mlbatch_pyfunc_worker.py) echo "loading a model too large for this machine" >&2; kill -9 $$;; esac\nexec ${WORKER_PYTHON} "$@"\n`,
    );
    chmodSync(python, 0o755);
    const out = join(work, "zygote.parquet");
    const result = await runJob(MLFLOW2, MODEL, out, { loader: { python, pyfunc: "always" } }).done;
    expect(result.code).toBe(1);
    const error = reportedError(result.stderr);
    expect(error).toContain("E_MODEL_LOAD");
    expect(error).toMatch(
      /model models:\/bikes_december\/\d+: its pyfunc workers' zygote .* exited \(SIGKILL\) before its workers started/s,
    );
    expect(error).toContain("loading a model too large for this machine");
    expect(existsSync(out)).toBe(false);
  }, 180_000);
});

/** A Python that notes each start of the workers' zygote in `log`, then runs as the real one. */
function notingPython(name: string): { python: string; log: string } {
  const python = join(work, name);
  const log = join(work, `${name}.log`);
  writeFileSync(
    python,
    `#!/bin/sh\ncase "$1" in *mlbatch_pyfunc_worker.py) echo zygote >> '${log}';; esac\nexec ${WORKER_PYTHON} "$@"\n`,
  );
  chmodSync(python, 0o755);
  return { python, log };
}

/** The processes whose environment holds `mark` (a job's children keep the environment it gave them). */
function marked(mark: string): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return readFileSync(`/proc/${name}/environ`, "latin1").includes(mark);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("the zygote started before the model is known", () => {
  it("given loader.pyfunc always and a job that fails before the model loads, when it fails, then the zygote it started ahead is gone and the error is the job's own", async () => {
    const { python, log } = notingPython("noting-always");
    const mark = `MLBATCH_TEST_MARK=${randomUUID()}`;
    const out = join(work, "early-always.parquet");
    const job = runJob(MLFLOW2, "no_such_model", out, {
      loader: { python, pyfunc: "always" },
      env: { MLBATCH_TEST_MARK: mark.slice("MLBATCH_TEST_MARK=".length) },
    });
    const result = await job.done;
    expect(result.code).toBe(1);
    expect(reportedError(result.stderr)).toContain("E_MODEL_NOT_FOUND");
    // Started ahead (it imports mlflow while the job looks the model up), then stopped with the job.
    expect(readFileSync(log, "utf8")).toContain("zygote");
    expect(await gone(marked(mark))).toEqual([]);
    expect(existsSync(out)).toBe(false);
  }, 180_000);

  it("given loader.pyfunc always and a job run in this process that fails before the model loads, when it fails, then its zygote has exited already", async () => {
    const { python, log } = notingPython("noting-in-process");
    // Loaded already, as in the CLI's bundle: the zygote starts at once, before the lookup fails.
    await import("../../src/models/pyfunc/early.js");
    const { job } = inferenceJob({
      inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
      outputs: { KIND: "ParquetWriter", path: join(work, "in-process.parquet") },
      mlflow_service: {
        tracking_uri: MLFLOW2.uri,
        registry_uri: MLFLOW2.uri,
        registry_name: "no_such_model",
      },
      alerts_service: { enable: false },
      loader: { KIND: "CustomLoader", pyfunc: "always", python, workers: 1 },
    });
    await expect(job.execute()).rejects.toMatchObject({ code: "E_MODEL_NOT_FOUND" });
    expect(readFileSync(log, "utf8")).toContain("zygote");
    // Stopped by the job itself, not by Node's exit or the zygote's watch of its parent: none is left.
    expect(zygotesOf(process.pid)).toEqual([]);
  }, 180_000);

  it("given loader.pyfunc auto, when the job fails before the model loads, then no Python was started for it", async () => {
    const { python, log } = notingPython("noting-auto");
    const result = await runJob(MLFLOW2, "no_such_model", join(work, "early-auto.parquet"), {
      loader: { python, pyfunc: "auto" },
    }).done;
    expect(result.code).toBe(1);
    expect(reportedError(result.stderr)).toContain("E_MODEL_NOT_FOUND");
    expect(existsSync(log)).toBe(false);
  }, 180_000);
});

describe("the job's process ends", () => {
  it("given kill -9 of the Node process mid-run, when it dies, then its zygote and Python workers exit too", async () => {
    const out = join(work, "kill9.parquet");
    const job = runJob(MLFLOW2, MODEL, out, { loader: { workers: 2 }, env: { MLBATCH_TEST_SLEEP: "2" } });
    const python = await pythonOnceUp(job.pid, job.saw);
    expect(python).toHaveLength(3);
    process.kill(job.pid, "SIGKILL");
    await job.done;
    expect(await gone(python)).toEqual([]);
  }, 180_000);

  it("given SIGTERM mid-run, when the job stops, then it exits 143, its workers are gone and nothing is written", async () => {
    const out = join(work, "sigterm.parquet");
    const job = runJob(MLFLOW2, MODEL, out, { env: { MLBATCH_TEST_SLEEP: "2" } });
    const python = await pythonOnceUp(job.pid, job.saw);
    expect(python.length).toBeGreaterThan(1);
    process.kill(job.pid, "SIGTERM");
    const result = await job.done;
    expect(result.code).toBe(143);
    expect(await gone(python)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  }, 180_000);
});
