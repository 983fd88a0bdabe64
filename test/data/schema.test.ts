import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DUCKDB_TYPE } from "../../src/data/batch.js";
import type { Database } from "../../src/data/database.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { checkInputs, type SchemaProblem } from "../../src/data/schema.js";
import { signatureColumn } from "../../src/data/signature-checks.js";
import { MlbatchError } from "../../src/errors.js";
import type { FeatureSpec } from "../../src/models/model.js";
import { eachTest, INPUTS_TEST } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

const HR: FeatureSpec = { name: "hr", signatureType: "long", type: "int64" };
const TEMP: FeatureSpec = { name: "temp", signatureType: "double", type: "float32" };

/** Writes a Parquet file from a SQL query and opens it. */
async function table(sql: string) {
  const path = join(dir, `t${Math.random().toString(36).slice(2)}.parquet`);
  await db.run(`COPY (${sql}) TO '${path}' (FORMAT parquet)`);
  return new ParquetReader({ path }).open(db);
}

async function problems(
  source: Awaited<ReturnType<typeof table>>,
  features: FeatureSpec[],
): Promise<{ error: MlbatchError; problems: SchemaProblem[] }> {
  const error = await checkInputs(db, source, features, "models:/bikes/2").then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MlbatchError);
  expect((error as MlbatchError).code).toBe("E_SCHEMA");
  return {
    error: error as MlbatchError,
    problems: (error as unknown as { problems: SchemaProblem[] }).problems,
  };
}

describe("checkInputs", () => {
  it("given the bikes inputs and their signature, when checked, then they pass", async () => {
    const source = await new ParquetReader({ path: INPUTS_TEST }).open(db);
    await expect(checkInputs(db, source, [HR, TEMP], "models:/bikes/2")).resolves.toBeUndefined();
  });

  it("given safe conversions (int32 -> long, float32 -> double, uint16 -> integer), when checked, then they pass", async () => {
    const source = await table("SELECT 1::INTEGER AS a, 1::FLOAT AS b, 1::USMALLINT AS c, 1::INTEGER AS d");
    const features: FeatureSpec[] = [
      { name: "a", signatureType: "long", type: "int64" },
      { name: "b", signatureType: "double", type: "float32" },
      { name: "c", signatureType: "integer", type: "int32" },
      { name: "d", signatureType: "double", type: "float32" },
    ];
    await expect(checkInputs(db, source, features, "m")).resolves.toBeUndefined();
  });

  it("given missing columns and unsafe types, when checked, then every one is named with expected vs found", async () => {
    const source = await table("SELECT 1.5::DOUBLE AS hr, 2::BIGINT AS temp, 3::BIGINT AS x, 'a' AS s");
    const features: FeatureSpec[] = [
      HR,
      TEMP,
      { name: "season", signatureType: "long", type: "int64" },
      { name: "weathersit", signatureType: "long", type: "int64" },
      { name: "s", signatureType: "double", type: "float64" },
    ];
    const { error, problems: found } = await problems(source, features);
    expect(found.map((p) => [p.column, p.check])).toEqual([
      ["hr", "type"],
      ["temp", "type"],
      ["season", "missing"],
      ["weathersit", "missing"],
      ["s", "type"],
    ]);
    expect(error.message).toContain(
      'column "hr": expected long (int64), found DOUBLE (float64); cannot safely convert float64 to int64',
    );
    expect(error.message).toContain('column "temp": expected double (float64), found BIGINT (int64)');
    expect(error.message).toContain('column "season" is missing');
    expect(error.message).toContain("input columns: hr DOUBLE, temp BIGINT, x BIGINT, s VARCHAR");
  });

  it("given nulls and values beyond the tensor type, when checked, then counts and first rows (with ids) are reported", async () => {
    const source = await table(
      `SELECT range AS id,
              CASE WHEN range % 100 = 7 THEN NULL ELSE range % 24 END AS hr,
              CASE WHEN range IN (3, 5) THEN 1e300 ELSE 0.5 END AS temp
       FROM range(1000)`,
    );
    const { error, problems: found } = await problems(source, [HR, TEMP]);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatchObject({ column: "hr", check: "null", count: 10 });
    expect(found[0]!.rows!.map((r) => r.row)).toEqual([7, 107, 207, 307, 407]);
    expect(found[1]).toMatchObject({ column: "temp", check: "unconvertible", count: 2 });
    expect(error.message).toContain(
      'column "hr": 10 null values; first rows (0-based): 7, 107, 207, 307, 407',
    );
    expect(error.message).toContain("values that do not fit the model's float32 input");
  });

  it("given an id column, when values fail, then the first rows carry their ids", async () => {
    const path = join(dir, "ids.parquet");
    // A pandas-style index: the reader reports it as the id column.
    await db.run(
      `COPY (SELECT range + 1000 AS instant, CASE WHEN range = 2 THEN NULL ELSE 1 END AS hr FROM range(5)) TO '${path}'
       (FORMAT parquet, KV_METADATA {pandas: '{"index_columns": ["instant"]}'})`,
    );
    const source = await new ParquetReader({ path }).open(db);
    expect(source.idColumns).toEqual(["instant"]);
    const { error } = await problems(source, [HR]);
    expect(error.message).toContain("first rows (0-based): 2 (instant=1002)");
  });
});

describe("checks of values that do not convert", () => {
  // Each DuckDB type a column may have, with its extreme values.
  const EXTREMES: Record<string, string[]> = {
    TINYINT: ["-128", "127"],
    SMALLINT: ["-32768", "32767"],
    INTEGER: ["-2147483648", "2147483647"],
    BIGINT: ["-9223372036854775808", "9223372036854775807"],
    UTINYINT: ["0", "255"],
    USMALLINT: ["0", "65535"],
    UINTEGER: ["0", "4294967295"],
    UBIGINT: ["0", "18446744073709551615"],
    FLOAT: ["'-3.4028235e38'", "'3.4028235e38'", "'inf'", "'-inf'", "'nan'"],
    DOUBLE: ["'-1.7976931348623157e308'", "'1.7976931348623157e308'", "'inf'", "'nan'"],
    BOOLEAN: ["true", "false"],
  };
  const FEEDS = ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"] as const;

  it("given a column whose type converts to the input's without fail, when checked, then no TRY_CAST is made for it; given any other, the check is made", async () => {
    let skipped = 0;
    for (const [found, values] of Object.entries(EXTREMES)) {
      for (const type of FEEDS) {
        const feature: FeatureSpec = { name: "x", signatureType: undefined, type };
        const checks = signatureColumn(feature, found, undefined, "safe").checks;
        const converting = checks.some((c) => c.check === "unconvertible");
        // DuckDB's own verdict: does some value of the type fail to convert?
        const to = DUCKDB_TYPE[type];
        const fails = await db.rows(
          `SELECT bool_or(TRY_CAST(v AS ${to}) IS NULL) AS fails FROM (VALUES ${values
            .map((v) => `(CAST(${v} AS ${found}))`)
            .join(", ")}) t(v)`,
        );
        if (!converting) {
          skipped++;
          expect(fails[0]!.fails, `${found} to ${to}`).toBe(false);
        }
      }
    }
    // 8 pairs of the same type and 11 widenings, of the 88.
    expect(skipped).toBe(19);
    const narrowing = signatureColumn(
      { name: "x", signatureType: undefined, type: "int32" },
      "BIGINT",
      undefined,
      "safe",
    );
    expect(narrowing.checks.map((c) => c.check)).toContain("unconvertible");
  });
});
