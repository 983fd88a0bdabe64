/**
 * Inference jobs over the models of test/fixtures/exported (ZipMap classifiers, tensor signatures, no
 * signature), registered by MLflow 2 and 3: the written outputs against pyfunc's predictions.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { quotedIdentifier, quotedString } from "../../src/data/sql.js";
import { MlbatchError } from "../../src/errors.js";
import { cli, inferenceJob, query, removeDir, tempDir } from "../helpers.js";
import { EXPORTED, INPUTS, TENSOR_FEATURES } from "./exported-fixture.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

function config(mlflow: string, model: string, overrides: Record<string, unknown> = {}) {
  return {
    inputs: { KIND: "ParquetReader", path: INPUTS },
    outputs: { KIND: "ParquetWriter", path: join(dir, "predictions.parquet") },
    mlflow_service: {
      registry_uri: `sqlite:///${join(EXPORTED, mlflow, "mlflow.db")}`,
      registry_name: model,
    },
    alias_or_version: 1,
    ...overrides,
  };
}

/**
 * Compares written columns with expected ones, row by row: labels equal, numbers within 1e-6.
 *
 * @param pairs - output column -> expected column; a column of labels is compared as text
 */
async function compare(mlflow: string, output: string, pairs: Record<string, string>, labels: string[] = []) {
  const expected = join(EXPORTED, `expected_${mlflow}.parquet`);
  const checks = Object.entries(pairs).map(([out, want], i) => {
    const [o, e] = [`o.${quotedIdentifier(out)}`, `e.${quotedIdentifier(want)}`];
    const same = labels.includes(out) ? `${o}::VARCHAR = ${e}::VARCHAR` : `abs(${o} - ${e}) <= 1e-6`;
    return `bool_and(${same}) AS c${i}`;
  });
  const [row] = await query(
    `SELECT count(*)::INT AS n, bool_and(o.instant = e.instant) AS ids, ${checks.join(", ")}
     FROM read_parquet(${quotedString(output)}) o POSITIONAL JOIN read_parquet(${quotedString(expected)}) e`,
  );
  expect(row).toEqual({
    n: 300,
    ids: true,
    ...Object.fromEntries(Object.keys(pairs).map((_, i) => [`c${i}`, true])),
  });
}

describe.each(["mlflow2", "mlflow3"])("inference jobs on models registered by %s", (mlflow) => {
  it("given a 3-class skl2onnx classifier with ZipMap and string labels, when run, then it writes the label and probability_<class> in class order, as pyfunc predicts", async () => {
    const { job } = inferenceJob(config(mlflow, "lr_3class_str"));
    const locals = await job.execute();
    expect(locals.outputs.columns).toEqual([
      "instant",
      "output_label",
      "probability_high",
      "probability_low",
      "probability_mid",
    ]);
    await compare(
      mlflow,
      locals.outputs.path,
      {
        output_label: "lr_3class_str/output_label",
        probability_high: "lr_3class_str/output_probability/high",
        probability_low: "lr_3class_str/output_probability/low",
        probability_mid: "lr_3class_str/output_probability/mid",
      },
      ["output_label"],
    );
    const [types] = await query(
      `SELECT typeof(output_label) AS label, typeof(probability_low) AS p FROM read_parquet(${quotedString(locals.outputs.path)}) LIMIT 1`,
    );
    expect(types).toEqual({ label: "VARCHAR", p: "FLOAT" });
  });

  it.each(["onnxruntime", "trees"])(
    "given an onnxmltools LightGBM classifier with ZipMap, when run with engine %s, then label and probability_<class> are pyfunc's",
    async (engine) => {
      const { job, logs } = inferenceJob(
        config(mlflow, "lgbm_3class", { loader: { KIND: "CustomLoader", engine } }),
      );
      const locals = await job.execute();
      expect(logs.text).toContain(`[Inference] Model engine: ${engine}`);
      expect(locals.outputs.columns).toEqual([
        "instant",
        "label",
        "probability_1",
        "probability_2",
        "probability_3",
      ]);
      await compare(
        mlflow,
        locals.outputs.path,
        {
          label: "lgbm_3class/label",
          probability_1: "lgbm_3class/probabilities/1",
          probability_2: "lgbm_3class/probabilities/2",
          probability_3: "lgbm_3class/probabilities/3",
        },
        ["label"],
      );
    },
  );

  it("given an onnxmltools LightGBM classifier, when the CLI runs it in batches, then ONNX Runtime's per-batch warnings about its [1] label are not printed", () => {
    const file = join(dir, "config.yaml");
    const job = { KIND: "InferenceJob", ...config(mlflow, "lgbm_binary"), batch_size: 100 };
    writeFileSync(file, JSON.stringify({ job }));
    const { code, stderr } = cli(["run", file]);
    expect(code).toBe(0);
    expect(stderr).not.toContain("VerifyOutputSizes");
  });

  it("given a ZipMap classifier and the BuiltinLoader with the tree engine, when run, then prediction is the label", async () => {
    const { job } = inferenceJob(
      config(mlflow, "rf_binary_str", { loader: { KIND: "BuiltinLoader", engine: "trees" } }),
    );
    const locals = await job.execute();
    expect(locals.outputs.columns).toEqual(["instant", "prediction"]);
    await compare(mlflow, locals.outputs.path, { prediction: "rf_binary_str/output_label" }, ["prediction"]);
  });

  it("given a tensor-signature model and inputs.columns listing its features, when run, then they feed it in order", async () => {
    const inputs = { KIND: "ParquetReader", path: INPUTS, columns: ["instant", ...TENSOR_FEATURES] };
    const { job } = inferenceJob(config(mlflow, "tensor_lr", { inputs }));
    const locals = await job.execute();
    expect(locals.model.inputs.map((i) => i.name)).toEqual(TENSOR_FEATURES);
    await compare(
      mlflow,
      locals.outputs.path,
      {
        output_label: "tensor_lr/output_label",
        probability_0: "tensor_lr/output_probability/0",
        probability_1: "tensor_lr/output_probability/1",
      },
      ["output_label"],
    );
  });

  it.each([
    ["a fixed-size list column FLOAT[12] as the only feature", "::FLOAT[12] AS features", ""],
    ["a list column FLOAT[] beside other columns", "::FLOAT[] AS features", ", hr, temp"],
  ])(
    "given a tensor-signature model and %s, when run, then its values feed the tensor",
    async (_, cast, others) => {
      const path = join(dir, "lists.parquet");
      await query(
        `COPY (SELECT instant, [${TENSOR_FEATURES.map(quotedIdentifier).join(", ")}]${cast}${others}
       FROM read_parquet(${quotedString(INPUTS)})) TO ${quotedString(path)} (FORMAT parquet)`,
      );
      const inputs = { KIND: "ParquetReader", path };
      const { job, logs } = inferenceJob(config(mlflow, "tensor_rf", { inputs, id_columns: ["instant"] }));
      const locals = await job.execute();
      expect(locals.model.inputs.map((i) => i.name)).toEqual(TENSOR_FEATURES.map((_, i) => `features_${i}`));
      expect(logs.text).toContain('Column \\"features\\" feeds the model as a tensor of 12 values');
      await compare(mlflow, locals.outputs.path, { variable: "tensor_rf/variable" });
    },
  );

  it("given a tensor-signature model and a list column whose rows differ in length, when run, then E_SCHEMA says so and nothing is written", async () => {
    const path = join(dir, "ragged.parquet");
    await query(
      `COPY (SELECT instant, CASE WHEN instant % 7 = 0 THEN [temp] ELSE [temp, hum] END AS features
       FROM read_parquet(${quotedString(INPUTS)})) TO ${quotedString(path)} (FORMAT parquet)`,
    );
    const { job } = inferenceJob(config(mlflow, "tensor_rf", { inputs: { KIND: "ParquetReader", path } }));
    const error = await job.execute().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MlbatchError);
    expect((error as MlbatchError).code).toBe("E_SCHEMA");
    expect((error as MlbatchError).message).toContain('column "features" of inputs');
    expect((error as MlbatchError).message).toContain("holds lists of 1 to 2 values");
  });

  it("given a tensor-signature model and loader.feature_columns, when the inputs have other columns too, then the named ones feed it", async () => {
    const loader = { KIND: "CustomLoader", feature_columns: TENSOR_FEATURES };
    const { job } = inferenceJob(config(mlflow, "tensor_rf", { loader }));
    const locals = await job.execute();
    expect(locals.outputs.columns).toEqual(["instant", "variable"]);
    await compare(mlflow, locals.outputs.path, { variable: "tensor_rf/variable" });
  });

  it("given a tensor-signature model and inputs with other columns, when run, then E_SCHEMA (step load) says the tensor it takes and how to name its columns, and nothing is written", async () => {
    const { job } = inferenceJob(config(mlflow, "tensor_rf"));
    const error = await job.execute().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MlbatchError);
    expect(error).toMatchObject({ code: "E_SCHEMA", step: "load" });
    expect((error as Error).message).toBe(
      'model models:/tensor_rf/1 takes a float32 tensor of shape [-1, 12] (graph input "X") and its signature names no ' +
        "columns, so it would be fed the input's columns in order (id columns left out): 15 columns (dteday, season, yr, " +
        "mnth, hr, holiday, weekday, workingday, weathersit, temp, atemp, hum, windspeed, casual, registered). Name its " +
        "12 columns, in order, with the loader's feature_columns (loader: {KIND: CustomLoader, feature_columns: [...]}), " +
        "or keep only them with inputs.columns.",
    );
  });

  it("given a model with only an input example, when run on the whole inputs, then the example's columns feed it", async () => {
    const { job } = inferenceJob(config(mlflow, "example_only"));
    const locals = await job.execute();
    expect(locals.model.inputs.map((i) => i.name)).toEqual([
      "hr",
      "temp",
      "atemp",
      "hum",
      "windspeed",
      "workingday",
    ]);
    await compare(mlflow, locals.outputs.path, { variable: "example_only/variable" });
  });

  it("given a model with neither signature nor example, when the inputs are its columns, then they feed it in order", async () => {
    const inputs = {
      KIND: "ParquetReader",
      path: INPUTS,
      columns: ["instant", "temp", "atemp", "hum", "windspeed"],
    };
    const { job } = inferenceJob(config(mlflow, "no_signature", { inputs }));
    const locals = await job.execute();
    await compare(mlflow, locals.outputs.path, { variable: "no_signature/variable" });
  });
});
