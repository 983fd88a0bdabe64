import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import type { InferenceLocals } from "../../src/jobs/inference.js";
import {
  BIKES,
  EXAMPLE_REGISTRY,
  INPUTS_TEST,
  inferenceJob,
  query,
  REGISTRIES,
  removeDir,
  STORES,
  tempDir,
} from "../helpers.js";

const EXPECTED = join(REGISTRIES, "expected_predictions.parquet");

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

function config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
    outputs: { KIND: "ParquetWriter", path: join(dir, "out", "predictions.parquet") },
    mlflow_service: { registry_uri: STORES["mlflow3-sqlite"] },
    ...overrides,
  };
}

/** The largest difference between the written predictions and a column of the expected predictions. */
async function maxDifference(output: string, expected: string, column: string): Promise<number> {
  const rows = await query(
    `SELECT count(*)::INT AS n, max(abs(p.prediction - e.${column})) AS diff, bool_and(p.instant = e.instant) AS same_ids
     FROM '${output}' p POSITIONAL JOIN '${expected}' e`,
  );
  expect(rows[0]).toMatchObject({ n: 3476, same_ids: true });
  return Number(rows[0]!.diff);
}

async function failingRun(overrides: Record<string, unknown>) {
  const { job, logs, alerts } = inferenceJob(config(overrides));
  const error = await job.execute().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MlbatchError);
  const failure = error as MlbatchError;
  // Logged with its code, notified once, and nothing written.
  const logged = logs.lines.map((line) => JSON.parse(line) as { level: number; code?: string; msg: string });
  expect(logged.filter((l) => l.level === 50)).toEqual([
    expect.objectContaining({ code: failure.code, msg: failure.message }),
  ]);
  expect(alerts.text).toBe(`[mlbatch] Inference Job Failed: [${failure.code}] ${failure.message}\n`);
  expect(existsSync(join(dir, "out"))).toBe(false);
  return failure;
}

describe("InferenceJob", () => {
  describe.each(Object.entries(STORES))("on the %s store", (_, store) => {
    it("given alias Champion, when run, then it predicts every row as the Python ONNX runtime does", async () => {
      const { job, alerts } = inferenceJob(config({ mlflow_service: { registry_uri: store } }));
      const locals = await job.execute();
      expect(locals.modelUri).toBe("models:/bikes@Champion");
      expect(locals.modelVersion).toMatchObject({ name: "bikes", version: 2, alias: "Champion" });
      expect(locals.shape).toEqual([3476, 2]);
      expect(locals.outputs.columns).toEqual(["instant", "prediction"]);
      expect(alerts.lines).toEqual(["[mlbatch] Inference Job Finished: Outputs Shape: (3476, 2)"]);
      expect(await maxDifference(locals.outputs.path, EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
    });
  });

  it("given a version number, when run, then that version predicts, differently from Champion", async () => {
    const { job } = inferenceJob(config({ alias_or_version: 1 }));
    const locals = await job.execute();
    expect(locals.modelUri).toBe("models:/bikes/1");
    expect(locals.modelVersion.version).toBe(1);
    expect(await maxDifference(locals.outputs.path, EXPECTED, "bikes_v1")).toBeLessThan(1e-4);
    expect(await maxDifference(locals.outputs.path, EXPECTED, "bikes_v2")).toBeGreaterThan(1);
  });

  it("given a single-input model, when run, then all signature columns feed one 2-D tensor", async () => {
    const { job } = inferenceJob(
      config({ mlflow_service: { registry_uri: STORES["mlflow2-sqlite"], registry_name: "bikes_tensor" } }),
    );
    const locals = await job.execute();
    expect(await maxDifference(locals.outputs.path, EXPECTED, "bikes_tensor_v1")).toBeLessThan(1e-3);
  });

  it("given the example registry, when run, then predictions match scikit-learn's and R^2 is above 0.9", async () => {
    const { job } = inferenceJob(config({ mlflow_service: { registry_uri: EXAMPLE_REGISTRY } }));
    const locals = await job.execute();
    expect(
      await maxDifference(locals.outputs.path, join(BIKES, "data", "sklearn_predictions_test.parquet"), "v2"),
    ).toBeLessThan(1e-3);
    const [fit] = await query(
      `SELECT 1 - sum((p.prediction - t.cnt) ^ 2) / sum((t.cnt - (SELECT avg(cnt) FROM '${BIKES}/data/targets_test.parquet')) ^ 2) AS r2
       FROM '${locals.outputs.path}' p JOIN '${BIKES}/data/targets_test.parquet' t USING (instant)`,
    );
    expect(Number(fit!.r2)).toBeGreaterThan(0.9);
  });

  it("given a batch size that does not divide the rows, when run, then the output equals the one-batch output", async () => {
    const one = (await inferenceJob(config()).job.execute()) as InferenceLocals;
    const other = join(dir, "small-batches.parquet");
    const { job } = inferenceJob(
      config({ batch_size: 1000, outputs: { KIND: "ParquetWriter", path: other } }),
    );
    await job.execute();
    const [diff] = await query(
      `SELECT count(*)::INT AS n, (count(*) FILTER (WHERE a.instant <> b.instant OR a.prediction <> b.prediction))::INT AS different
       FROM '${one.outputs.path}' a POSITIONAL JOIN '${other}' b`,
    );
    expect(diff).toEqual({ n: 3476, different: 0 });
  });

  it("given the builtin loader and explicit id columns, when run, then those columns come next to prediction", async () => {
    const { job } = inferenceJob(
      config({ loader: { KIND: "BuiltinLoader" }, id_columns: ["instant", "dteday"] }),
    );
    const locals = await job.execute();
    expect(locals.outputs.columns).toEqual(["instant", "dteday", "prediction"]);
    const [row] = await query(`SELECT * FROM '${locals.outputs.path}' LIMIT 1`);
    const [input] = await query(`SELECT instant, dteday FROM '${INPUTS_TEST}' LIMIT 1`);
    expect(row).toMatchObject(input!);
  });

  it("given alerts disabled, when run, then no notification is sent", async () => {
    const { job, alerts } = inferenceJob(config({ alerts_service: { enable: false } }));
    await job.execute();
    expect(alerts.text).toBe("");
  });

  it("given a run, when it succeeds or fails, then services start in order and stop in reverse", async () => {
    for (const overrides of [{}, { alias_or_version: "NoSuchAlias" }]) {
      const { job, services } = inferenceJob(config(overrides));
      const events: string[] = [];
      for (const [name, service] of Object.entries(services)) {
        const start = service.start.bind(service);
        const stop = service.stop.bind(service);
        service.start = async () => {
          events.push(`start ${name}`);
          await start();
        };
        service.stop = async () => {
          events.push(`stop ${name}`);
          await stop();
        };
      }
      await job.execute().catch(() => undefined);
      expect(events).toEqual([
        "start logger",
        "start alerts",
        "start mlflow",
        "stop mlflow",
        "stop alerts",
        "stop logger",
      ]);
    }
  });

  it("given a run, when it succeeds, then each step is logged on one line", async () => {
    const { job, logs } = inferenceJob(config());
    await job.execute();
    const messages = logs.lines.map((line) => (JSON.parse(line) as { msg: string }).msg.split(":")[0]);
    expect(messages).toEqual([
      "[Inference] Read inputs",
      "[Inference] With model URI",
      "[Inference] Resolved models",
      "[Inference] Validate inputs",
      "[Inference] Load model",
      "[Inference] Model engine",
      "[Inference] Predict outputs",
      "[Inference] Write outputs",
      "[Inference] Notify with alerts",
    ]);
  });

  describe("failures", () => {
    it("given a missing input file, then E_READ at step read", async () => {
      const failure = await failingRun({
        inputs: { KIND: "ParquetReader", path: join(dir, "missing.parquet") },
      });
      expect(failure).toMatchObject({ code: "E_READ", step: "read" });
      expect(failure.message).toContain("missing.parquet");
    });

    it("given a corrupt Parquet file, then E_READ", async () => {
      const path = join(dir, "corrupt.parquet");
      writeFileSync(path, "PAR1garbagePAR1");
      expect(await failingRun({ inputs: { KIND: "ParquetReader", path } })).toMatchObject({
        code: "E_READ",
        step: "read",
      });
    });

    it("given inputs without a signature column, then E_SCHEMA names it", async () => {
      const path = join(dir, "no-hr.parquet");
      await query(`COPY (SELECT * EXCLUDE (hr) FROM '${INPUTS_TEST}') TO '${path}'`);
      const failure = await failingRun({ inputs: { KIND: "ParquetReader", path } });
      expect(failure).toMatchObject({ code: "E_SCHEMA", step: "validate" });
      expect(failure.message).toContain('column "hr" is missing');
    });

    it("given an unknown alias, then E_MODEL_NOT_FOUND lists the aliases", async () => {
      const failure = await failingRun({ alias_or_version: "NoSuchAlias" });
      expect(failure).toMatchObject({ code: "E_MODEL_NOT_FOUND", step: "load" });
      expect(failure.message).toContain(
        'alias "NoSuchAlias" not found for model "bikes"; aliases: Challenger -> 1, Champion -> 2, Pickled -> 3',
      );
    });

    it("given an unknown version, then E_MODEL_NOT_FOUND lists the versions", async () => {
      const failure = await failingRun({ alias_or_version: 42 });
      expect(failure.code).toBe("E_MODEL_NOT_FOUND");
      expect(failure.message).toContain('version 42 not found for model "bikes"; versions: 1, 2, 3');
    });

    it("given an unreachable registry, then E_REGISTRY names the URI", async () => {
      const failure = await failingRun({
        mlflow_service: { registry_uri: `sqlite:///${join(dir, "nowhere.db")}` },
      });
      expect(failure).toMatchObject({ code: "E_REGISTRY", step: "load" });
      expect(failure.message).toContain("nowhere.db");
    });

    it("given a model without onnx flavor, then E_MODEL_LOAD", async () => {
      expect(await failingRun({ alias_or_version: "Pickled" })).toMatchObject({
        code: "E_MODEL_LOAD",
        step: "load",
      });
    });

    it("given an output folder that cannot be created, then E_WRITE and no file", async () => {
      writeFileSync(join(dir, "out"), "a file where the output folder should be");
      const { job, alerts } = inferenceJob(config());
      const error = await job.execute().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "E_WRITE", step: "write" });
      expect(alerts.lines[0]).toContain("Inference Job Failed: [E_WRITE]");
      expect(readdirSync(dir)).toEqual(["out"]);
    });
  });
});
