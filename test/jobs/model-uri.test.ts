/**
 * Inference jobs loading models by `model_uri` and by a stage in `alias_or_version`, on the stores of
 * test/fixtures/stages: the predictions are those of the model MLflow loads from the same URI (run by
 * ONNX Runtime, in test/fixtures/registries/expected_predictions.parquet).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/config/load.js";
import { MlbatchError } from "../../src/errors.js";
import {
  BIKES,
  cli,
  INPUTS_TEST,
  inferenceJob,
  query,
  REGISTRIES,
  removeDir,
  reportedError,
  tempDir,
} from "../helpers.js";
import { STAGE_STORES, type StageStore, VERDICTS } from "../registry/stages-fixture.js";

const EXPECTED = join(REGISTRIES, "expected_predictions.parquet");

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

function config(store: StageStore, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
    outputs: { KIND: "ParquetWriter", path: join(dir, "predictions.parquet") },
    mlflow_service: { registry_uri: STAGE_STORES[store], tracking_uri: STAGE_STORES[store] },
    model_version_column: "model",
    ...overrides,
  };
}

/** The largest difference between the written predictions and a column of ONNX Runtime's, row by row. */
async function maxDifference(output: string, column: string): Promise<number> {
  const [row] = await query(
    `SELECT count(*)::INT AS n, max(abs(p.prediction - e.${column}))::DOUBLE AS diff, bool_and(p.instant = e.instant) AS same_ids
     FROM '${output}' p POSITIONAL JOIN '${EXPECTED}' e`,
  );
  expect(row).toMatchObject({ n: 3476, same_ids: true });
  return Number(row?.diff);
}

describe.each(Object.keys(STAGE_STORES) as StageStore[])("a job on the %s store", (store) => {
  it.each(VERDICTS[store].uris.map((v) => [v.uri, v] as const))(
    "given model_uri %s, when run, then it predicts as the model MLflow loads from that URI",
    async (uri, verdict) => {
      const { job } = inferenceJob(config(store, { model_uri: uri }));
      const locals = await job.execute();
      // Stages and latest are spelled as MLflow stores them (models:/bikes/production is models:/bikes/Production).
      expect(locals.modelUri.toLowerCase()).toBe(uri.toLowerCase());
      expect(locals.modelVersion.version).toBe(verdict.version);
      expect(await maxDifference(locals.outputs.path, verdict.model)).toBeLessThan(1e-4);
      const pinned = verdict.version === null ? uri : `models:/bikes/${verdict.version}`;
      const [model] = await query(`SELECT DISTINCT model FROM '${locals.outputs.path}'`);
      expect(model).toEqual({ model: pinned });
    },
  );

  it("given alias_or_version Production, no such alias, when run, then it loads the stage's newest version and logs that it did", async () => {
    const { job, logs } = inferenceJob(config(store, { alias_or_version: "Production" }));
    const locals = await job.execute();
    expect(locals.modelVersion).toMatchObject({ version: 2, stage: "Production" });
    expect(await maxDifference(locals.outputs.path, "bikes_v2")).toBeLessThan(1e-4);
    const messages = logs.lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toContain(
      '[Inference] Resolved models:/bikes@Production to version 2 (no alias "Production": resolved stage ' +
        "Production to version 2, its newest version in that stage)",
    );
  });
});

describe("model_uri in the config", () => {
  const EXAMPLE = join(BIKES, "confs", "inference.yaml");

  async function configError(extra: string): Promise<MlbatchError> {
    const error = await loadSettings([EXAMPLE], [extra], {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlbatchError);
    return error as MlbatchError;
  }

  it("given model_uri and a non-default alias_or_version (expected failure), when loaded, then E_CONFIG says to keep one", async () => {
    const error = await configError("job: {model_uri: 'models:/bikes/Production', alias_or_version: 3}");
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toContain(
      "job.model_uri: set together with alias_or_version (3): they both name the model to load; keep one",
    );
  });

  it("given a model_uri of no known form (expected failure), when loaded, then E_CONFIG says why and lists the forms", async () => {
    const error = await configError("job: {model_uri: 'models:/bikes/Prod'}");
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toContain(
      'job.model_uri: invalid model URI "models:/bikes/Prod": "Prod" is neither a version number, "latest", nor a stage',
    );
  });

  it("given model_uri alone, when loaded, then the settings keep it", async () => {
    const settings = await loadSettings([EXAMPLE], ["job: {model_uri: 'models:/bikes/latest'}"], {});
    expect(settings.job).toMatchObject({ model_uri: "models:/bikes/latest", alias_or_version: "Champion" });
  });
});

describe("sharded runs (the built CLI)", () => {
  function shardedRun(modelUri: string) {
    const output = join(dir, "predictions");
    const path = join(dir, "sharded.yaml");
    const store = STAGE_STORES["mlflow3-sqlite"];
    writeFileSync(
      path,
      `job:
  KIND: InferenceJob
  inputs: {KIND: ParquetReader, path: '${INPUTS_TEST}'}
  outputs: {KIND: ParquetWriter, path: '${output}'}
  model_uri: '${modelUri}'
  mlflow_service: {registry_uri: '${store}', tracking_uri: '${store}'}
`,
    );
    return { output, ...cli(["run", path, "--shard", "0/1"]) };
  }

  it("given model_uri models:/bikes/Production, when run as one shard, then the plan pins version 2 and the outputs are its predictions", async () => {
    const { output, code, stderr } = shardedRun("models:/bikes/Production");
    expect(stderr).not.toContain('"level":50');
    expect(code).toBe(0);
    const plan = JSON.parse(readFileSync(join(output, "_plan.json"), "utf8")) as { model: unknown };
    expect(plan.model).toMatchObject({ asked: "models:/bikes/Production", name: "bikes", version: 2 });
    expect(await maxDifference(join(output, "*.parquet"), "bikes_v2")).toBeLessThan(1e-4);
  });

  it("given a runs:/ model_uri (expected failure), when run as a shard, then E_CONFIG says sharded runs need a registered version", () => {
    const run = VERDICTS["mlflow3-sqlite"].uris.find((v) => v.uri.startsWith("runs:/"));
    const { code, stderr } = shardedRun(run?.uri ?? "");
    expect(code).toBe(2);
    expect(reportedError(stderr)).toContain(
      `sharded runs load a registered model version, pinned in the plan; ${run?.uri} is not one.`,
    );
  });
});
