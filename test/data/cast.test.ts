/**
 * What MLflow refuses and how mlbatch says it: missing values for inputs that cannot hold them, types that
 * do not convert safely, and `validation.cast: unsafe`, which converts them (each value that does not
 * convert an invalid row).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { type CastPolicy, validateInputs } from "../../src/data/schema.js";
import type { Source } from "../../src/data/source.js";
import { quotedString } from "../../src/data/sql.js";
import { MlbatchError } from "../../src/errors.js";
import { ValidationConfig } from "../../src/jobs/validation/config.js";
import type { FeatureSpec } from "../../src/models/model.js";
import { FEED_TYPE, type SignatureType } from "../../src/models/signature.js";
import { EXAMPLE_REGISTRY, eachTest, INPUTS_TEST, inferenceJob, python, query, ROOT } from "../helpers.js";

const PYTHON = process.env.MLBATCH_TEST_PYTHON ?? join(ROOT, ".venv", "bin", "python");

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

/** Writes a Parquet file from a SQL query and opens it. */
async function table(sql: string): Promise<Source> {
  const path = join(dir, `t${Math.random().toString(36).slice(2)}.parquet`);
  await db.run(`COPY (${sql}) TO ${quotedString(path)} (FORMAT parquet)`);
  return new ParquetReader({ path }).open(db);
}

function feature(name: string, type: SignatureType): FeatureSpec {
  return { name, signatureType: type, type: FEED_TYPE[type] };
}

async function validated(source: Source, features: FeatureSpec[], cast?: CastPolicy) {
  const { report } = await validateInputs(db, source, features, "models:/m/1", { cast });
  return report;
}

async function streamed(source: Source, f: FeatureSpec): Promise<unknown[]> {
  const values: unknown[] = [];
  for await (const batch of source.batches([f], 1000))
    values.push(...Array.from(batch.columns[0]!.data as ArrayLike<unknown>));
  return values;
}

describe("missing values", () => {
  it("given nulls for an integer input, when validated, then the message says MLflow refuses them and what to do", async () => {
    const source = await table(
      "SELECT CASE WHEN range IN (2, 5) THEN NULL ELSE range END AS hr FROM range(8)",
    );
    const report = await validated(source, [feature("hr", "long")]);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ column: "hr", check: "null", count: 2 });
    expect(report.problems[0]!.message).toBe(
      'column "hr": 2 null values; first rows (0-based): 2, 5. The model\'s signature takes long (int64), which ' +
        "cannot hold a missing value (MLflow refuses them too): fill them in the data, or set " +
        "job.validation.on_invalid: drop, or log the model with hr as double.",
    );
  });

  it("given nulls and NaN for float and double inputs, when validated and streamed, then both are fed as NaN", async () => {
    const source = await table(
      "SELECT * FROM (VALUES (1.5::FLOAT, 0.25::DOUBLE), (NULL, NULL), ('NaN'::FLOAT, 'NaN'::DOUBLE)) t(a, b)",
    );
    const features = [feature("a", "float"), feature("b", "double")];
    expect((await validated(source, features)).problems).toEqual([]);
    expect(await streamed(source, features[0]!)).toEqual([1.5, Number.NaN, Number.NaN]);
    expect(await streamed(source, features[1]!)).toEqual([0.25, Number.NaN, Number.NaN]);
  });

  it("given nulls in a double input constrained nullable: false, when validated, then the constraint reports them", async () => {
    const source = await table("SELECT CASE WHEN range = 1 THEN NULL ELSE 0.5 END AS temp FROM range(3)");
    const { report } = await validateInputs(db, source, [feature("temp", "double")], "m", {
      constraints: { temp: { nullable: false } },
    });
    expect(report.problems).toMatchObject([
      { column: "temp", check: "null", origin: "constraints", count: 1 },
    ]);
  });

  it("given whole floats with nulls for an integer input, when validated, then the refusal names the missing values", async () => {
    const source = await table(
      "SELECT CASE WHEN range = 1 THEN NULL ELSE range::DOUBLE END AS hr FROM range(4)",
    );
    const report = await validated(source, [feature("hr", "long")]);
    const messages = report.problems.map((p) => p.message).join("\n");
    expect(messages).toContain(
      'column "hr": expected long (int64), found DOUBLE (float64); cannot safely convert float64 to int64 ' +
        "(MLflow refuses it too); it has 1 missing values: pandas reads an integer column with missing values " +
        "as float64. Log the model with hr as double, or fill them in.",
    );
  });
});

describe("type refusals", () => {
  it("given float64 data for a float input, when validated, then the refusal says how to cast", async () => {
    const source = await table("SELECT 0.1::DOUBLE AS temp");
    const report = await validated(source, [feature("temp", "float")]);
    expect(report.problems.map((p) => p.message)).toEqual([
      'column "temp": expected float (float32), found DOUBLE (float64); cannot safely convert float64 to float32 ' +
        "(MLflow refuses it too). To convert it anyway (values that do not convert become invalid rows), set " +
        "job.validation.cast: {temp: unsafe}.",
    ]);
  });

  it("given int64 values other than 0 and 1 for a double input, when validated, then it counts them", async () => {
    const source = await table("SELECT range AS n FROM range(5)");
    const [problem] = (await validated(source, [feature("n", "double")])).problems;
    expect(problem).toMatchObject({ column: "n", check: "type" });
    expect(problem!.message).toContain("MLflow converts int64 only when every value is 0 or 1 (3 are not)");
  });

  it("given int64 with nulls for a double input, when validated, then it is accepted as pandas' float64", async () => {
    const source = await table("SELECT CASE WHEN range = 0 THEN NULL ELSE range END AS n FROM range(3)");
    expect((await validated(source, [feature("n", "double")])).problems).toEqual([]);
    expect(await streamed(source, feature("n", "double"))).toEqual([Number.NaN, 1, 2]);
  });
});

describe("feeding", () => {
  it("given doubles beyond the float32 range, infinities, NaN and nulls for a double input fed to a float32 tensor, when streamed, then they are infinities and NaN, as numpy casts them", async () => {
    const source = await table(
      "SELECT * FROM (VALUES (1e300::DOUBLE), (-1e300), (0.1), (NULL), ('NaN'::DOUBLE), ('inf'::DOUBLE), ('-inf'::DOUBLE)) t(x)",
    );
    expect((await validated(source, [feature("x", "double")])).problems).toEqual([]);
    expect(await streamed(source, { name: "x", signatureType: "double", type: "float32" })).toEqual([
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Math.fround(0.1),
      Number.NaN,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
  });

  it("given doubles at float32's edges for a float32 tensor, when streamed, then each is numpy's float32 of it, bit for bit", async () => {
    // Around the largest float32 (below, at, between it and the next power, beyond), ties of rounding,
    // float32's subnormals and what underflows them, signed zeros, and doubles of every magnitude.
    const max = 3.4028234663852886e38;
    const edges = [
      max,
      max * (1 + 2 ** -25),
      max * (1 + 2 ** -24),
      // The tie between the largest float32 and 2^128 (numpy: infinity), the double just below it (the
      // largest float32), and one between.
      2 ** 128 - 2 ** 103,
      (2 ** 128 - 2 ** 103) * (1 - 2 ** -53),
      2 ** 128 - 2 ** 75,
      max * (1 + 2 ** -23),
      2 ** 128,
      1e39,
      Number.MAX_VALUE,
      1 + 2 ** -24,
      1 + 3 * 2 ** -24,
      1 + 2 ** -24 + 2 ** -52,
      2 ** -126,
      2 ** -149,
      2 ** -150,
      3 * 2 ** -151,
      2 ** -151,
      1e-46,
      Number.MIN_VALUE,
      0,
      -0,
      0.1,
      1 / 3,
      Math.PI,
      16777217,
      2 ** 60 + 1,
    ];
    const random = Array.from(
      { length: 200 },
      (_, i) => (i % 2 ? -1 : 1) * Math.exp((i - 100) * 0.9) * (1 + i / 7),
    );
    const doubles = [...edges, ...edges.map((x) => -x), ...random];
    // Seventeen digits: each double written exactly.
    const rows = doubles.map((x) => `(${Object.is(x, -0) ? "-0.0" : x.toPrecision(17)}::DOUBLE)`).join(", ");
    const source = await table(`SELECT * FROM (VALUES ${rows}) t(x)`);
    const got = (await streamed(source, { name: "x", signatureType: "double", type: "float32" })) as number[];
    const numpy = python(
      PYTHON,
      "import json, sys, numpy as np\n" +
        "x = np.array(json.loads(sys.argv[1]), dtype=np.float64)\n" +
        "with np.errstate(over='ignore'): print(json.dumps(x.astype(np.float32).view(np.uint32).tolist()))",
      [JSON.stringify(doubles.map((x) => x.toPrecision(17)).map(Number))],
    );
    // -0 does not survive JSON: numpy is given 0 there, and the bits are compared apart from the sign of 0.
    const bits = new Uint32Array(Float32Array.from(got).buffer);
    const expected = JSON.parse(numpy) as number[];
    const zeroSign = (b: number, i: number) => (Object.is(doubles[i], -0) ? b | 0x80000000 : b) >>> 0;
    expect(Array.from(bits)).toEqual(expected.map(zeroSign));
  });
});

describe("validation.cast", () => {
  it("given the option, when parsed, then safe is the default and unsafe applies to all or some columns", () => {
    expect(ValidationConfig.parse({}).cast).toBe("safe");
    expect(ValidationConfig.parse({ cast: "unsafe" }).cast).toBe("unsafe");
    expect(ValidationConfig.parse({ cast: { temp: "unsafe" } }).cast).toEqual({ temp: "unsafe" });
    expect(() => ValidationConfig.parse({ cast: "lossy" })).toThrow();
    expect(() => ValidationConfig.parse({ cast: { temp: "float" } })).toThrow();
  });

  it("given unsafe for an integer input, when validated, then fractions, nulls and values out of range are invalid rows", async () => {
    const source = await table(
      "SELECT * FROM (VALUES (1.0::DOUBLE), (2.5), (NULL), (1e300), ('NaN'::DOUBLE), (7.0)) t(hr)",
    );
    const report = await validated(source, [feature("hr", "long")], "unsafe");
    expect(report.problems.map((p) => [p.check, p.count, p.rows?.map((r) => r.row)])).toEqual([
      ["null", 1, [2]],
      ["unconvertible", 2, [3, 4]],
      ["unconvertible", 1, [1]],
    ]);
    expect(report.problems[2]!.message).toContain("values that are not whole numbers (cast: unsafe)");
    const valid = source.where("hr = 1 OR hr = 7");
    expect(await streamed(valid, feature("hr", "long"))).toEqual([1n, 7n]);
  });

  it("given unsafe for a boolean input fed integers, when validated, then values other than 0 and 1 are invalid rows", async () => {
    const source = await table("SELECT range AS flag FROM range(3)");
    const report = await validated(source, [feature("flag", "boolean")], { flag: "unsafe" });
    expect(report.problems).toMatchObject([
      { check: "unconvertible", count: 1, rows: [{ row: 2, value: "2" }] },
    ]);
  });

  it("given unsafe for a double input fed text, when validated and streamed, then what does not parse is invalid", async () => {
    const source = await table("SELECT * FROM (VALUES ('1.5'), ('x')) t(s)");
    const report = await validated(source, [feature("s", "double")], "unsafe");
    expect(report.problems).toMatchObject([
      { check: "unconvertible", count: 1, rows: [{ row: 1, value: "x" }] },
    ]);
    expect(await streamed(source.where("s <> 'x'"), feature("s", "double"))).toEqual([1.5]);
  });

  it("given unsafe for a type DuckDB cannot convert, when validated, then the refusal says so", async () => {
    const source = await table("SELECT DATE '2024-01-02' AS d");
    const [problem] = (await validated(source, [feature("d", "float")], "unsafe")).problems;
    expect(problem).toMatchObject({ column: "d", check: "type" });
    expect(problem!.message).toContain(
      "DuckDB cannot convert DATE to float, even with job.validation.cast: unsafe. Convert the column in the data",
    );
  });

  it("given unsafe for one column, when validated, then only that column is converted", async () => {
    const source = await table("SELECT 0.5::DOUBLE AS a, 0.5::DOUBLE AS b");
    const report = await validated(source, [feature("a", "float"), feature("b", "float")], { a: "unsafe" });
    expect(report.problems.map((p) => [p.column, p.check])).toEqual([["b", "type"]]);
    expect(report.problems[0]!.message).toContain("set job.validation.cast: {b: unsafe}");
  });

  it("given bikes inputs whose hr is float64, when run, then it is refused, and with cast {hr: unsafe} predicted as usual", async () => {
    const inputs = join(dir, "hr-double.parquet");
    await db.run(
      `COPY (SELECT * REPLACE (hr::DOUBLE AS hr) FROM read_parquet(${quotedString(INPUTS_TEST)})) TO ${quotedString(inputs)} (FORMAT parquet)`,
    );
    const config = (path: string, validation: Record<string, unknown> = {}) => ({
      inputs: { KIND: "ParquetReader", path },
      outputs: {
        KIND: "ParquetWriter",
        path: join(dir, `out-${Math.random().toString(36).slice(2)}.parquet`),
      },
      mlflow_service: { registry_uri: EXAMPLE_REGISTRY },
      validation,
    });
    const refused = await inferenceJob(config(inputs))
      .job.execute()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(refused).toBeInstanceOf(MlbatchError);
    expect((refused as MlbatchError).code).toBe("E_SCHEMA");
    expect((refused as MlbatchError).message).toContain("set job.validation.cast: {hr: unsafe}");
    const cast = await inferenceJob(config(inputs, { cast: { hr: "unsafe" } })).job.execute();
    const usual = await inferenceJob(config(INPUTS_TEST)).job.execute();
    const [same] = await query(
      `SELECT count(*)::INT AS n, bool_and(a.prediction = b.prediction) AS same
       FROM '${cast.outputs.path}' a POSITIONAL JOIN '${usual.outputs.path}' b`,
    );
    expect(same).toEqual({ n: 3476, same: true });
  });
});
