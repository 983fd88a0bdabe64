/**
 * Parquet outputs read back by pandas as the reference's are: the reference writes
 * `pd.DataFrame({"prediction": ...}, index=inputs.index)`, so its outputs have the inputs' index.
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import {
  INPUTS_TEST,
  inferenceJob,
  python,
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

/**
 * Reads mlbatch's outputs back with pandas and with pyarrow's to_pandas, and the reference's outputs on the
 * same inputs (ONNX Runtime's predictions of version 2, indexed as the inputs, written by pandas): their
 * index names, dtypes and values, columns, and whether they are equal.
 */
const READ_BACK = `
import json, sys
import numpy as np, pandas as pd, pyarrow.parquet as pq
outputs, inputs, expected, reference = sys.argv[1:5]
inputs = pd.read_parquet(inputs)
pd.DataFrame({"prediction": pd.read_parquet(expected)["bikes_v2"].to_numpy()}, index=inputs.index).to_parquet(reference)
def shape(frame):
    return {
        "index": list(frame.index.names),
        "dtypes": [str(frame.index.get_level_values(i).dtype) for i in range(frame.index.nlevels)],
        "columns": list(frame.columns),
    }
ours, theirs, arrow = pd.read_parquet(outputs), pd.read_parquet(reference), pq.read_table(outputs).to_pandas()
first = theirs.index[0]
def loc():  # code written against the reference's outputs
    try:
        return abs(float(ours.loc[first, "prediction"]) - float(theirs.loc[first, "prediction"])) < 1e-4
    except KeyError:
        return False
print(json.dumps({
    "ours": shape(ours), "reference": shape(theirs), "to_pandas": shape(arrow),
    "same_index": bool(ours.index.equals(theirs.index)) and bool(arrow.index.equals(theirs.index)),
    "same_predictions": bool(np.allclose(ours["prediction"], theirs["prediction"], atol=1e-4)),
    "loc": bool(loc()),
    "joined": int(len(ours.join(theirs, rsuffix="_reference", how="inner"))),
}))
`;

interface ReadBack {
  readonly ours: Shape;
  readonly reference: Shape;
  readonly to_pandas: Shape;
  readonly same_index: boolean;
  readonly same_predictions: boolean;
  readonly loc: boolean;
  readonly joined: number;
}
interface Shape {
  readonly index: (string | null)[];
  readonly dtypes: string[];
  readonly columns: string[];
}

function readBack(outputs: string, inputs: string): ReadBack {
  const out = python(inject("python"), READ_BACK, [
    outputs,
    inputs,
    EXPECTED,
    join(dir, "reference.parquet"),
  ]);
  return JSON.parse(out) as ReadBack;
}

/** Writes the bikes inputs with another pandas index: `code` turns the frame `df` into the one to write. */
function inputsWith(code: string): string {
  const path = join(dir, "inputs.parquet");
  python(
    inject("python"),
    `import sys, pandas as pd\ndf = pd.read_parquet(sys.argv[1])\n${code}\ndf.to_parquet(sys.argv[2])`,
    [INPUTS_TEST, path],
  );
  return path;
}

async function run(inputs: string, overrides: Record<string, unknown> = {}) {
  const { job } = inferenceJob({
    inputs: { KIND: "ParquetReader", path: inputs },
    outputs: { KIND: "ParquetWriter", path: join(dir, "out", "predictions.parquet") },
    mlflow_service: { registry_uri: STORES["mlflow3-sqlite"] },
    ...overrides,
  });
  return (await job.execute()).outputs.path;
}

describe("Parquet outputs of inputs with a pandas index", () => {
  it("given the bikes inputs (index instant, int64), when read back by pandas and pyarrow, then they are indexed as the reference's", async () => {
    const outputs = await run(INPUTS_TEST);
    const read = readBack(outputs, INPUTS_TEST);
    expect(read.reference).toEqual({ index: ["instant"], dtypes: ["int64"], columns: ["prediction"] });
    expect(read.ours).toEqual(read.reference);
    expect(read.to_pandas).toEqual(read.reference);
    expect(read).toMatchObject({ same_index: true, same_predictions: true, loc: true, joined: 3476 });
    // Other readers still see instant as a column.
    const [row] = await query(`SELECT count(*)::INT AS n, min(instant) AS first FROM '${outputs}'`);
    expect(row).toEqual({ n: 3476, first: 13904n });
  });

  it("given an index of uint32, when read back, then pandas gives the same dtype as the reference's", async () => {
    const inputs = inputsWith('df.index = df.index.astype("uint32")');
    const read = readBack(await run(inputs), inputs);
    expect(read.reference.dtypes).toEqual(["uint32"]);
    expect(read.ours).toEqual(read.reference);
    expect(read.to_pandas).toEqual(read.reference);
    expect(read).toMatchObject({ same_index: true, same_predictions: true, loc: true });
  });

  it("given a two-level index (instant, dteday), when read back, then the levels, their order and dtypes are the reference's", async () => {
    const inputs = inputsWith('df = df.set_index("dteday", append=True)');
    const read = readBack(await run(inputs), inputs);
    expect(read.reference.index).toEqual(["instant", "dteday"]);
    expect(read.ours).toEqual(read.reference);
    expect(read.to_pandas).toEqual(read.reference);
    expect(read).toMatchObject({ same_index: true, same_predictions: true, loc: true });
  });

  it("given an unnamed index, when read back, then it is unnamed as the reference's", async () => {
    const inputs = inputsWith("df.index.name = None");
    const read = readBack(await run(inputs), inputs);
    expect(read.reference.index).toEqual([null]);
    expect(read.ours).toEqual(read.reference);
    expect(read).toMatchObject({ same_index: true, same_predictions: true });
  });

  it("given id_columns set in the config, when read back, then the ids are plain columns (they did not come from the index)", async () => {
    const outputs = await run(INPUTS_TEST, { id_columns: ["instant"] });
    const read = readBack(outputs, INPUTS_TEST);
    expect(read.ours).toEqual({ index: [null], dtypes: ["int64"], columns: ["instant", "prediction"] });
    expect(read.loc).toBe(false);
  });
});
