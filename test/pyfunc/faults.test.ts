// Faults of the pyfunc tier, with a real model logged by MLflow 2 (test/fixtures/pyfunc: bikes_december raises
// on December rows, the last of the test inputs, and sleeps $MLBATCH_TEST_SLEEP seconds a batch): the job
// fails with the traceback tail and the row range, writes nothing, and leaves no Python process behind.
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeDir, reportedError } from "../helpers.js";
import { gone, MLFLOW2, pythonOf, runJob, tempDir, WORKER_PYTHON, workersOf } from "./fixture.js";

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
