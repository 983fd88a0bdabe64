/**
 * Models as users export them (test/fixtures/exported: skl2onnx and onnxmltools classifiers with their
 * default ZipMap, tensor signatures, no signature), registered by MLflow 2 and 3, scored by mlbatch with
 * both engines and compared with what MLflow's pyfunc predicted on the same rows.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Column } from "../../src/data/batch.js";
import { Database } from "../../src/data/database.js";
import { Source } from "../../src/data/source.js";
import { quotedString } from "../../src/data/sql.js";
import { BuiltinLoader } from "../../src/models/loaders/builtin-loader.js";
import { CustomLoader } from "../../src/models/loaders/custom-loader.js";
import type { Loader } from "../../src/models/loaders/loader.js";
import { readMLmodel } from "../../src/models/mlmodel.js";
import type { Model } from "../../src/models/model.js";
import { openRegistry } from "../../src/registry/index.js";
import { failure } from "../helpers.js";
import { EXPORTED, INPUTS, TENSOR_FEATURES } from "./exported-fixture.js";

const MLFLOWS = ["mlflow2", "mlflow3"] as const;
type Mlflow = (typeof MLFLOWS)[number];
const store = (mlflow: Mlflow) => `sqlite:///${join(EXPORTED, mlflow, "mlflow.db")}`;

/** A ZipMap classifier: its label output, and its class labels in the model's order. */
interface Classifier {
  readonly model: string;
  readonly label: string;
  readonly probabilities: string;
  readonly classes: readonly string[];
  /** What the CustomLoader names the label (the signature's name, else the ONNX output's). */
  readonly labelColumn: string;
  readonly labelType: "int64" | "string";
  readonly trees: boolean;
}

const CLASSIFIERS: readonly Classifier[] = [
  {
    model: "lr_binary_int",
    label: "output_label",
    probabilities: "output_probability",
    classes: ["0", "1"],
    labelColumn: "output_label",
    labelType: "int64",
    trees: false,
  },
  {
    model: "lr_3class_str",
    label: "output_label",
    probabilities: "output_probability",
    classes: ["high", "low", "mid"],
    labelColumn: "output_label",
    labelType: "string",
    trees: false,
  },
  {
    model: "rf_binary_str",
    label: "output_label",
    probabilities: "output_probability",
    classes: ["busy", "quiet"],
    labelColumn: "prediction",
    labelType: "string",
    trees: true,
  },
  {
    model: "rf_3class_int",
    label: "output_label",
    probabilities: "output_probability",
    classes: ["1", "2", "3"],
    labelColumn: "output_label",
    labelType: "int64",
    trees: true,
  },
  {
    model: "lgbm_binary",
    label: "label",
    probabilities: "probabilities",
    classes: ["0", "1"],
    labelColumn: "label",
    labelType: "int64",
    trees: true,
  },
  {
    model: "lgbm_3class",
    label: "label",
    probabilities: "probabilities",
    classes: ["1", "2", "3"],
    labelColumn: "label",
    labelType: "int64",
    trees: true,
  },
  {
    model: "tensor_lr",
    label: "output_label",
    probabilities: "output_probability",
    classes: ["0", "1"],
    labelColumn: "output_label",
    labelType: "int64",
    trees: false,
  },
];

let db: Database;
let source: Source;
const expected: Partial<Record<Mlflow, Map<string, unknown[]>>> = {};

beforeAll(async () => {
  db = await Database.create();
  source = await Source.open(db, { from: `read_parquet(${quotedString(INPUTS)})`, label: INPUTS });
  for (const mlflow of MLFLOWS) {
    const file = join(EXPORTED, `expected_${mlflow}.parquet`);
    const rows = await db.rows(`SELECT * FROM read_parquet(${quotedString(file)})`);
    const columns = new Map<string, unknown[]>();
    for (const name of Object.keys(rows[0]!))
      columns.set(
        name,
        rows.map((r) => r[name]),
      );
    expected[mlflow] = columns;
  }
});
afterAll(() => db.close());

async function load(
  mlflow: Mlflow,
  name: string,
  loader: Loader,
  tableColumns?: readonly string[],
): Promise<Model> {
  const registry = openRegistry(store(mlflow));
  try {
    const version = await registry.getModelVersion({ name, version: 1 });
    const uri = `models:/${name}/1`;
    return await loader.load(
      uri,
      await readMLmodel(await registry.modelDirectory(version), uri),
      tableColumns,
    );
  } finally {
    registry.close();
  }
}

/** Every row of inputs.parquet through the model, in batches of 128, as the job streams them. */
async function predictAll(model: Model): Promise<Map<string, unknown[]>> {
  const out = new Map<string, unknown[]>(model.outputs.map((o) => [o.name, []]));
  for await (const batch of source.batches(model.inputs, 128)) {
    const predicted = await model.predict(batch);
    for (const column of predicted.columns) out.get(column.name)!.push(...values(column));
  }
  return out;
}

function values(column: Column): unknown[] {
  return Array.from(column.data as ArrayLike<unknown>, (v) => (typeof v === "bigint" ? Number(v) : v));
}

function expectedColumn(mlflow: Mlflow, name: string): unknown[] {
  const column = expected[mlflow]!.get(name);
  expect(column, `expected_${mlflow}.parquet has ${name}`).toBeDefined();
  return column!.map((v) => (typeof v === "bigint" ? Number(v) : v));
}

function expectClose(actual: unknown[] | undefined, wanted: unknown[]): void {
  expect(actual).toHaveLength(wanted.length);
  const worst = Math.max(...wanted.map((w, i) => Math.abs((actual![i] as number) - (w as number))));
  expect(worst).toBeLessThanOrEqual(1e-6);
}

describe.each(MLFLOWS)("models exported with default options, registered by %s", (mlflow) => {
  for (const c of CLASSIFIERS) {
    const engines = c.trees ? (["onnxruntime", "trees"] as const) : (["onnxruntime"] as const);
    it.each(engines)(
      `given ${c.model} (a ZipMap), when the CustomLoader runs it with engine %s, then the label and one probability column per class, in class order, are pyfunc's`,
      async (engine) => {
        const model = await load(mlflow, c.model, new CustomLoader({ engine }), TENSOR_FEATURES);
        try {
          expect(model.engine.startsWith(engine)).toBe(true);
          const probabilities = c.classes.map((k) => `probability_${k}`);
          expect(model.outputs).toEqual([
            { name: c.labelColumn, type: c.labelType },
            ...probabilities.map((name) => ({ name, type: "float32" })),
          ]);
          const out = await predictAll(model);
          expect(out.get(c.labelColumn)).toEqual(expectedColumn(mlflow, `${c.model}/${c.label}`));
          c.classes.forEach((k, i) => {
            expectClose(
              out.get(probabilities[i]!),
              expectedColumn(mlflow, `${c.model}/${c.probabilities}/${k}`),
            );
          });
        } finally {
          await model.close();
        }
      },
    );
  }

  it("given the tree classifiers and regressor, when run by both engines with as many threads, then the outputs are the same bits", async () => {
    const trees = [...CLASSIFIERS.filter((c) => c.trees).map((c) => c.model), "tensor_rf"];
    for (const name of trees) {
      const outputs = [];
      for (const engine of ["onnxruntime", "trees"] as const) {
        const model = await load(
          mlflow,
          name,
          new CustomLoader({ engine, intraOpNumThreads: 2 }),
          TENSOR_FEATURES,
        );
        try {
          expect(model.engine.startsWith(engine)).toBe(true);
          outputs.push(await predictAll(model));
        } finally {
          await model.close();
        }
      }
      expect(outputs[1], name).toEqual(outputs[0]);
    }
  });

  it.each(["onnxruntime", "auto"] as const)(
    "given ZipMap classifiers, when the BuiltinLoader runs them with engine %s, then prediction is the label",
    async (engine) => {
      for (const c of CLASSIFIERS) {
        const model = await load(mlflow, c.model, new BuiltinLoader({ engine }), TENSOR_FEATURES);
        try {
          expect(model.outputs).toEqual([{ name: "prediction", type: c.labelType }]);
          const out = await predictAll(model);
          expect(out.get("prediction")).toEqual(expectedColumn(mlflow, `${c.model}/${c.label}`));
        } finally {
          await model.close();
        }
      }
    },
  );

  it.each(["onnxruntime", "trees"] as const)(
    "given tensor_rf (tensor signature float32 [-1, 12]), when fed the table's columns in order with engine %s, then its outputs are pyfunc's",
    async (engine) => {
      const model = await load(mlflow, "tensor_rf", new CustomLoader({ engine }), TENSOR_FEATURES);
      try {
        expect(model.inputs.map((i) => i.name)).toEqual(TENSOR_FEATURES);
        expect(model.inputs.every((i) => i.type === "float32" && i.signatureType === undefined)).toBe(true);
        expect(model.outputs).toEqual([{ name: "variable", type: "float32" }]);
        expectClose((await predictAll(model)).get("variable"), expectedColumn(mlflow, "tensor_rf/variable"));
      } finally {
        await model.close();
      }
    },
  );

  it("given tensor_rf and loader.feature_columns, when the table has more columns, then the named ones feed it in order", async () => {
    const table = source.columns.map((c) => c.name);
    const model = await load(
      mlflow,
      "tensor_rf",
      new CustomLoader({ featureColumns: TENSOR_FEATURES }),
      table,
    );
    try {
      expect(model.inputs.map((i) => i.name)).toEqual(TENSOR_FEATURES);
      expectClose((await predictAll(model)).get("variable"), expectedColumn(mlflow, "tensor_rf/variable"));
    } finally {
      await model.close();
    }
  });

  it("given tensor_rf, when the table's columns are not its 12, then E_SCHEMA says the tensor it takes and how to name its columns", async () => {
    const table = source.columns.map((c) => c.name).filter((name) => name !== "instant");
    const error = await failure(load(mlflow, "tensor_rf", new CustomLoader(), table));
    expect(error.code).toBe("E_SCHEMA");
    expect(error.message).toContain(
      'model models:/tensor_rf/1 takes a float32 tensor of shape [-1, 12] (graph input "X") and its signature names no columns, ' +
        "so it would be fed the input's columns in order (id columns left out): 15 columns (dteday, season,",
    );
    expect(error.message).toContain(
      "Name its 12 columns, in order, with the loader's feature_columns (loader: {KIND: CustomLoader, feature_columns: [...]}), " +
        "or keep only them with inputs.columns.",
    );
  });

  it("given loader.feature_columns of the wrong count, then E_CONFIG says the tensor the model takes", async () => {
    const error = await failure(
      load(mlflow, "tensor_rf", new CustomLoader({ featureColumns: ["temp", "hum"] }), TENSOR_FEATURES),
    );
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toContain("takes a float32 tensor of shape [-1, 12]");
    expect(error.message).toContain("so it would be fed loader.feature_columns: 2 columns (temp, hum).");
  });

  it("given loader.feature_columns for a model with a column signature, then E_CONFIG says to remove them", async () => {
    const error = await failure(load(mlflow, "lgbm_binary", new CustomLoader({ featureColumns: ["temp"] })));
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toContain(
      "loader.feature_columns is set, but model models:/lgbm_binary/1 has a column signature that names its inputs (season, hr,",
    );
  });

  it("given a one-input-per-column graph without column signature, when loader.feature_columns names its inputs' columns, then they feed the inputs in order", async () => {
    const registry = openRegistry(store(mlflow));
    const version = await registry.getModelVersion({ name: "rf_binary_str", version: 1 });
    const read = await readMLmodel(await registry.modelDirectory(version), "models:/rf_binary_str/1");
    registry.close();
    const mlmodel = { ...read, signature: { inputs: undefined, outputs: undefined } };
    const columns = ["season", "hr", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed"];
    const wrong = await failure(
      new CustomLoader({ featureColumns: ["season"] }).load(
        "models:/rf_binary_str/1",
        mlmodel,
        TENSOR_FEATURES,
      ),
    );
    expect(wrong.code).toBe("E_CONFIG");
    expect(wrong.message).toContain(
      "loader.feature_columns names 1 column, but model models:/rf_binary_str/1 has 8 inputs",
    );
    const model = await new CustomLoader({ featureColumns: columns }).load(
      "models:/rf_binary_str/1",
      mlmodel,
    );
    try {
      expect(model.inputs.map((i) => `${i.name}:${i.type}`)).toEqual(
        columns.map((c, i) => `${c}:${i < 4 ? "int64" : "float32"}`),
      );
      const out = await predictAll(model);
      expect(out.get("output_label")).toEqual(expectedColumn(mlflow, "rf_binary_str/output_label"));
    } finally {
      await model.close();
    }
  });

  it("given example_only (no signature, an input example), when loaded, then the example's columns feed it and its outputs are pyfunc's", async () => {
    const table = source.columns.map((c) => c.name);
    const model = await load(mlflow, "example_only", new CustomLoader(), table);
    try {
      expect(model.inputs.map((i) => i.name)).toEqual([
        "hr",
        "temp",
        "atemp",
        "hum",
        "windspeed",
        "workingday",
      ]);
      expectClose((await predictAll(model)).get("variable"), expectedColumn(mlflow, "example_only/variable"));
    } finally {
      await model.close();
    }
  });

  it("given no_signature (neither signature nor example), when the table has its 4 columns, then they feed it in order", async () => {
    const table = ["temp", "atemp", "hum", "windspeed"];
    const model = await load(mlflow, "no_signature", new CustomLoader(), table);
    try {
      expect(model.inputs.map((i) => i.name)).toEqual(table);
      expectClose((await predictAll(model)).get("variable"), expectedColumn(mlflow, "no_signature/variable"));
    } finally {
      await model.close();
    }
  });
});
