/**
 * Models as users export them (test/fixtures/exported: skl2onnx and onnxmltools classifiers with their
 * default ZipMap), registered by MLflow 2 and 3, scored by mlbatch with both engines and compared with
 * what MLflow's pyfunc predicted on the same rows.
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
import { ROOT } from "../helpers.js";

const EXPORTED = join(ROOT, "test", "fixtures", "exported");
const INPUTS = join(EXPORTED, "inputs.parquet");
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

async function load(mlflow: Mlflow, name: string, loader: Loader): Promise<Model> {
  const registry = openRegistry(store(mlflow));
  try {
    const version = await registry.getModelVersion({ name, version: 1 });
    const uri = `models:/${name}/1`;
    return await loader.load(uri, await readMLmodel(await registry.modelDirectory(version), uri));
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
        const model = await load(mlflow, c.model, new CustomLoader({ engine }));
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

  it.each(["onnxruntime", "auto"] as const)(
    "given ZipMap classifiers, when the BuiltinLoader runs them with engine %s, then prediction is the label",
    async (engine) => {
      for (const c of CLASSIFIERS) {
        const model = await load(mlflow, c.model, new BuiltinLoader({ engine }));
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
});
