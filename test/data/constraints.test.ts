import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Constraints } from "../../src/data/constraints.js";
import { Constraints as ConstraintsSchema } from "../../src/data/constraints.js";
import type { Database } from "../../src/data/database.js";
import { CsvReader } from "../../src/data/readers/csv-reader.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { type SchemaProblem, validateInputs } from "../../src/data/schema.js";
import { Source } from "../../src/data/source.js";
import { quotedString } from "../../src/data/sql.js";
import { reportJson, schemaError } from "../../src/data/validation-report.js";
import { MlbatchError } from "../../src/errors.js";
import type { FeatureSpec } from "../../src/models/model.js";
import { eachTest, INPUTS_TEST, ROOT } from "../helpers.js";

const INPUTS_INVALID = join(ROOT, "test", "fixtures", "data", "inputs_invalid.csv");

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

/** A source over the rows of a SQL query (a DuckDB table). */
async function table(sql: string): Promise<Source> {
  const name = `t${Math.random().toString(36).slice(2)}`;
  await db.run(`CREATE TABLE ${name} AS ${sql}`);
  return Source.open(db, { from: name, label: name, idColumns: ["id"] });
}

/** Validates column `x` of `sql` (with an `id` column) against one constraint; no signature. */
async function check(sql: string, constraint: Record<string, unknown>) {
  const source = await table(sql);
  const constraints = ConstraintsSchema.parse({ x: constraint });
  return (await validateInputs(db, source, [], "m", { constraints })).report;
}

function summary(problems: readonly SchemaProblem[]) {
  return problems.map((p) => ({
    check: p.check,
    count: p.count,
    rows: p.rows?.map((r) => r.row),
    values: p.rows?.map((r) => r.value),
  }));
}

const NUMBERS = "SELECT range AS id, (range - 1)::INTEGER AS x FROM range(4)"; // x: -1, 0, 1, 2

describe("constraints: every check type", () => {
  it.each([
    ["ge", { ge: 0 }, [0], ["-1"]],
    ["gt", { gt: 0 }, [0, 1], ["-1", "0"]],
    ["le", { le: 1 }, [3], ["2"]],
    ["lt", { lt: 1 }, [2, 3], ["1", "2"]],
    ["isin", { isin: [0, 2] }, [0, 2], ["-1", "1"]],
  ] as const)(
    "given x in -1..2 and %s, when validated, then exactly the failing rows are reported with their values",
    async (name, constraint, rows, values) => {
      const report = await check(NUMBERS, constraint);
      expect(summary(report.problems)).toEqual([{ check: name, count: rows.length, rows, values }]);
      expect(report.rows).toEqual({ total: 4, invalid: rows.length });
      expect(report.problems[0]!.rows![0]!.ids).toEqual({ id: BigInt(rows[0]!) });
    },
  );

  it("given text values, when checked with isin and regex, then regex must match the whole value", async () => {
    const sql = `SELECT range AS id, ['2011-01-01', '2011-1-1', 'x2011-01-02', 'b'][range + 1] AS x FROM range(4)`;
    expect(summary((await check(sql, { regex: "\\d{4}-\\d{2}-\\d{2}" })).problems)).toEqual([
      { check: "regex", count: 3, rows: [1, 2, 3], values: ["2011-1-1", "x2011-01-02", "b"] },
    ]);
    expect(summary((await check(sql, { isin: ["b", "2011-01-01"] })).problems)).toEqual([
      { check: "isin", count: 2, rows: [1, 2], values: ["2011-1-1", "x2011-01-02"] },
    ]);
  });

  it("given nulls, when checked, then they fail nullable false (the default) and no value check", async () => {
    const sql = "SELECT range AS id, CASE WHEN range % 2 = 0 THEN NULL ELSE 5 END AS x FROM range(6)";
    expect(summary((await check(sql, { ge: 0, le: 9, isin: [5] })).problems)).toEqual([
      { check: "null", count: 3, rows: [0, 2, 4], values: [undefined, undefined, undefined] },
    ]);
    expect((await check(sql, { nullable: true, ge: 0 })).valid).toBe(true);
    expect((await check(sql, { nullable: true, ge: 6 })).problems.map((p) => p.count)).toEqual([3]);
  });

  it("given text read from CSV, when dtype long is declared, then non-integers fail dtype and bounds apply to the converted values", async () => {
    const sql = `SELECT range AS id, ['1', '2.5', 'abc', '-3', NULL, '07'][range + 1] AS x FROM range(6)`;
    const report = await check(sql, { dtype: "long", nullable: true, ge: 0 });
    expect(summary(report.problems)).toEqual([
      { check: "dtype", count: 2, rows: [1, 2], values: ["2.5", "abc"] },
      { check: "ge", count: 1, rows: [3], values: ["-3"] },
    ]);
    expect(report.rows.invalid).toBe(3);
  });

  it("given doubles, when dtype int64 is declared, then only whole numbers pass; dtype double on integers always passes", async () => {
    const doubles = "SELECT range AS id, [1.0, 1.5, 2.0][range + 1]::DOUBLE AS x FROM range(3)";
    expect(summary((await check(doubles, { dtype: "int64" })).problems)).toEqual([
      { check: "dtype", count: 1, rows: [1], values: ["1.5"] },
    ]);
    const report = await check(NUMBERS, { dtype: "double", ge: -1 });
    expect(report.valid).toBe(true);
  });

  it("given dates, when bounded by date strings, then they are compared as dates", async () => {
    const sql = "SELECT range AS id, DATE '2011-05-30' + range::INTEGER AS x FROM range(4)";
    expect(summary((await check(sql, { ge: "2011-06-01", lt: "2011-06-02" })).problems)).toEqual([
      { check: "ge", count: 2, rows: [0, 1], values: ["2011-05-30", "2011-05-31"] },
      { check: "lt", count: 1, rows: [3], values: ["2011-06-02"] },
    ]);
  });

  it("given a number bound on a text column, when validated, then the mismatch is a column problem saying how to fix it", async () => {
    const report = await check("SELECT 1 AS id, 'a' AS x", { ge: 0 });
    expect(report.problems).toEqual([
      expect.objectContaining({
        column: "x",
        check: "ge",
        origin: "constraints",
        message: expect.stringContaining("cannot be checked on a VARCHAR column"),
      }),
    ]);
    expect(report.problems[0]!.count).toBeUndefined();
  });

  it("given a constraint on a column the inputs lack, when validated, then it is reported missing", async () => {
    const source = await table("SELECT 1 AS id");
    const constraints = ConstraintsSchema.parse({ season: { isin: [1] } });
    const { report } = await validateInputs(db, source, [], "m", { constraints });
    expect(report.problems).toEqual([
      { column: "season", check: "missing", origin: "constraints", message: 'column "season" is missing' },
    ]);
  });

  it("given an invalid regex, when validated, then E_CONFIG names the constraint", async () => {
    const error = await check("SELECT 1 AS id, 'a' AS x", { regex: "(" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlbatchError);
    expect(error).toMatchObject({ code: "E_CONFIG" });
    expect((error as MlbatchError).message).toContain("job.validation.constraints.x.regex");
  });

  it("given unknown keys or an empty isin, when parsed, then the config is refused", () => {
    expect(ConstraintsSchema.safeParse({ x: { gte: 1 } }).success).toBe(false);
    expect(ConstraintsSchema.safeParse({ x: { isin: [] } }).success).toBe(false);
    expect(ConstraintsSchema.safeParse({ x: { dtype: "decimal" } }).success).toBe(false);
  });
});

describe("validation report", () => {
  const BIKES_CONSTRAINTS: Constraints = ConstraintsSchema.parse({
    instant: { ge: 0 },
    dteday: { regex: "\\d{4}-\\d{2}-\\d{2}" },
    season: { isin: [1, 2, 3, 4] },
    hr: { ge: 0, le: 23 },
    temp: { ge: 0, le: 1 },
  });
  const SIGNATURE: FeatureSpec[] = [
    { name: "season", signatureType: "long", type: "int64" },
    { name: "hr", signatureType: "long", type: "int64" },
    { name: "temp", signatureType: "double", type: "float32" },
  ];

  it("given a file with 5 kinds of violations across 4 columns, when validated, then one report names all of them", async () => {
    const source = await new CsvReader({ path: INPUTS_INVALID, types: { dteday: "VARCHAR" } }).open(db);
    const { report } = await validateInputs(db, source, SIGNATURE, "models:/bikes/2", {
      constraints: BIKES_CONSTRAINTS,
      idColumns: ["instant"],
    });
    expect(report.problems.map((p) => [p.column, p.check, p.count, p.rows?.map((r) => r.row)])).toEqual([
      ["season", "isin", 2, [3, 17]],
      ["hr", "null", 3, [8, 9, 120]],
      ["hr", "le", 2, [5, 40]],
      ["temp", "ge", 2, [12, 150]],
      ["dteday", "regex", 2, [2, 77]],
    ]);
    expect(report.rows).toEqual({ total: 200, invalid: 11 });
    const message = schemaError(report).message;
    expect(message).toContain(
      'column "season": 2 values not in [1, 2, 3, 4] (isin); first rows (0-based): 3 (instant=13907, value 5), 17 (instant=13921, value 0)',
    );
    expect(message).toContain(
      'column "hr": 3 null values; first rows (0-based): 8 (instant=13912), 9 (instant=13913), 120 (instant=14024)',
    );
    expect(message).toContain('column "hr": 2 values above 23 (le: 23)');
    expect(message).toContain('column "temp": 2 values below 0 (ge: 0)');
    expect(message).toContain("2 values not matching \\d{4}-\\d{2}-\\d{2} (regex)");
    expect(message).toContain("rows: 200 read, 11 invalid");
    const json = JSON.parse(reportJson(report, { on_invalid: "fail" })) as Record<string, unknown>;
    expect(json).toMatchObject({
      inputs: INPUTS_INVALID,
      model: "models:/bikes/2",
      valid: false,
      rows: { total: 200, invalid: 11 },
      on_invalid: "fail",
    });
    expect((json.problems as unknown[])[0]).toEqual({
      column: "season",
      check: "isin",
      origin: "constraints",
      expected: "in [1, 2, 3, 4]",
      count: 2,
      rows: [
        { row: 3, ids: { instant: 13907 }, value: "5" },
        { row: 17, ids: { instant: 13921 }, value: "0" },
      ],
      message: expect.any(String),
    });
  });

  it("given the valid bikes inputs and the reference's constraints, when validated, then the report is valid", async () => {
    const source = await new ParquetReader({ path: INPUTS_TEST }).open(db);
    const { report, invalid } = await validateInputs(db, source, SIGNATURE, "m", {
      constraints: BIKES_CONSTRAINTS,
    });
    expect(report).toMatchObject({ valid: true, rows: { total: 3476, invalid: 0 }, problems: [] });
    expect(invalid).toBeDefined();
  });
});

describe("counting the invalid rows", () => {
  // The invalid rows and each column's missing values must be those of DuckDB's own row-by-row counts,
  // whatever the overlap of missing values and other failures, for checks of missing values alone and
  // with another check, in a table and in a Parquet file (whose statistics must not stand in for its
  // rows: a damaged file fails the pass).
  const SIGNATURE: FeatureSpec[] = [
    { name: "a", signatureType: "long", type: "int64" },
    { name: "b", signatureType: "long", type: "int64" },
  ];
  const CONSTRAINTS = {
    "missing values only": {
      constraints: ConstraintsSchema.parse({ c: { nullable: false } }),
      failing: "a IS NULL OR b IS NULL OR c IS NULL",
    },
    "missing values and a range": {
      constraints: ConstraintsSchema.parse({ b: { le: 90 }, c: { nullable: false } }),
      failing: "a IS NULL OR b IS NULL OR b > 90 OR c IS NULL",
    },
  };
  const CASES = {
    "no missing values": "range % 7 AS a, range % 100 AS b, 1.5 AS c",
    "missing values in one column":
      "CASE WHEN range % 13 = 0 THEN NULL ELSE 1 END AS a, range % 80 AS b, 1.5 AS c",
    "missing values overlapping across columns and failures":
      "CASE WHEN range % 6 = 0 THEN NULL ELSE 1 END AS a, CASE WHEN range % 9 = 0 THEN NULL ELSE range % 100 END AS b, " +
      "CASE WHEN range % 4 = 0 THEN NULL ELSE 0.5 END AS c",
  };
  const pairs = Object.entries(CONSTRAINTS).flatMap(([checks, c]) =>
    Object.entries(CASES).map(([data, columns]) => [checks, data, c, columns] as const),
  );

  it.each(pairs)(
    "given %s checked and %s, in a table and in a Parquet file of several row groups, then the counts are DuckDB's row-by-row counts",
    async (_, __, { constraints, failing }, columns) => {
      const sql = `SELECT range AS id, ${columns} FROM range(50000)`;
      const expected = await db.rows(
        `SELECT count_if(${failing}) AS invalid, count_if(a IS NULL) AS a, ` +
          `count_if(b IS NULL) AS b, count_if(c IS NULL) AS c FROM (${sql})`,
      );
      const path = join(dir, `rows-${Math.random().toString(36).slice(2)}.parquet`);
      await db.run(`COPY (${sql}) TO ${quotedString(path)} (FORMAT parquet, ROW_GROUP_SIZE 8192)`);
      for (const source of [await table(sql), await new ParquetReader({ path }).open(db)]) {
        const { report } = await validateInputs(db, source, SIGNATURE, "m", { constraints });
        expect(report.rows).toEqual({ total: 50000, invalid: Number(expected[0]!.invalid) });
        const nulls = Object.fromEntries(
          report.problems.filter((p) => p.check === "null").map((p) => [p.column, p.count]),
        );
        for (const column of ["a", "b", "c"]) {
          const count = Number(expected[0]![column]);
          expect(nulls[column]).toBe(count === 0 ? undefined : count);
        }
      }
    },
  );

  it("given a Parquet file whose data pages are damaged but whose footer is whole, when only missing values are checked, then the pass reads the rows and fails with E_READ", async () => {
    // Statistics in the footer say there are no missing values; only reading the rows shows the damage.
    const path = join(dir, "damaged.parquet");
    await db.run(
      `COPY (SELECT range AS a, range % 7 AS b FROM range(100000)) TO ${quotedString(path)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const bytes = readFileSync(path);
    for (let i = 200; i < bytes.length / 2; i += 97) bytes[i] = bytes[i]! ^ 0xff;
    writeFileSync(path, bytes);
    const source = await new ParquetReader({ path }).open(db);
    const failure = await validateInputs(db, source, SIGNATURE, "m").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MlbatchError);
    expect((failure as MlbatchError).code).toBe("E_READ");
  });
});
