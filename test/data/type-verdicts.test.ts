/**
 * The differential test of type verdicts: for each case of test/fixtures/types/verdicts.py (a Parquet
 * column type and a signature type), MLflow's pyfunc, asked in the tests' MLflow venv, and mlbatch agree:
 * both accept, and mlbatch streams the values pyfunc fed, or both refuse. `cast: unsafe` then converts
 * what both refuse to numpy's `astype` of the column.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ColumnType } from "../../src/data/batch.js";
import { Database } from "../../src/data/database.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { type CastPolicy, validateInputs } from "../../src/data/schema.js";
import type { Source } from "../../src/data/source.js";
import type { FeatureSpec } from "../../src/models/model.js";
import { FEED_TYPE } from "../../src/models/signature.js";
import { removeDir } from "../helpers.js";
import { type Encoded, mlflowVerdicts, type VerdictCase } from "./mlflow-verdicts.js";

/**
 * Where MLflow's schema check lets a column through that the ONNX model then cannot take, and mlbatch
 * refuses it with the check named here (see docs/guide.md, "Input validation").
 */
const DIVERGENT: Readonly<Record<string, { readonly check: string; readonly why: string }>> = {
  "decimal-string": { check: "type", why: "decimal objects reach the string tensor as Python's text" },
  "date-string": { check: "type", why: "date objects reach the string tensor as Python's text" },
  "binary-string": { check: "type", why: "bytes reach the string tensor as Python's text (b'ab')" },
  "bool-nulls-boolean": {
    check: "null",
    why: "True/None objects: ONNX Runtime refuses them for a bool tensor",
  },
  "string-nulls-string": { check: "null", why: 'NaN reaches the string tensor as the text "nan"' },
  "date-nulls-datetime": { check: "null", why: "NaT: ONNX has no datetime tensor; mlbatch feeds text" },
};

const verdicts = mlflowVerdicts();
let db: Database;
beforeAll(async () => {
  db = await Database.create();
});
afterAll(() => {
  db.close();
  removeDir(verdicts.folder);
});

function feature(c: VerdictCase): FeatureSpec {
  return { name: "x", signatureType: c.signature, type: FEED_TYPE[c.signature] };
}

async function validate(c: VerdictCase, cast?: CastPolicy) {
  const source = await new ParquetReader({ path: c.file }).open(db);
  const { report } = await validateInputs(db, source, [feature(c)], "models:/m/1", { cast });
  return { source, report, said: report.problems.map((p) => p.message).join("\n") };
}

async function streamed(source: Source, type: ColumnType): Promise<unknown[]> {
  const values: unknown[] = [];
  for await (const batch of source.batches([{ name: "x", type }], 2))
    values.push(...Array.from(batch.columns[0]!.data as ArrayLike<unknown>));
  return values;
}

/** `2024-01-02T03:04:05.1` from DuckDB's or Python's text of a date or timestamp. */
function instant(text: string): string {
  const [date, time = "00:00:00"] = text.split(/[ T]/);
  return `${date}T${time.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "")}`;
}

/** mlbatch's streamed values as verdicts.py encodes pandas' (a datetime feeds text: compared as instants). */
function encoded(values: readonly unknown[], type: ColumnType, datetime: boolean): Encoded[] {
  return values.map((v): Encoded => {
    if (type === "bool") return v === 1;
    if (typeof v === "bigint" || type.startsWith("int") || type === "uint8") return String(v);
    if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
    return datetime ? instant(String(v)) : String(v);
  });
}

function expected(values: readonly Encoded[], datetime: boolean): Encoded[] {
  return values.map((v) => (datetime && typeof v === "string" ? instant(v) : v));
}

describe(`type verdicts: mlbatch as MLflow ${verdicts.versions.mlflow} (pandas ${verdicts.versions.pandas}, pyarrow ${verdicts.versions.pyarrow})`, () => {
  it("given the cases, then they cover at least 30 pairs of Parquet and signature types, both verdicts", () => {
    expect(verdicts.cases.length).toBeGreaterThanOrEqual(30);
    const kinds = new Set(verdicts.cases.map((c) => c.mlflow.verdict));
    expect([...kinds].sort()).toEqual(["accepted", "refused"]);
    expect(Object.keys(DIVERGENT).filter((id) => !verdicts.cases.some((c) => c.id === id))).toEqual([]);
  });

  it.each(verdicts.cases.map((c) => [c.id, c] as const))(
    "given %s, when validated and streamed, then mlbatch's verdict and values are MLflow's",
    async (id, c) => {
      const { source, report, said } = await validate(c);
      const divergent = DIVERGENT[id];
      if (divergent !== undefined) {
        // The expected divergence: MLflow's schema check accepts, mlbatch refuses.
        expect(c.mlflow.verdict, divergent.why).toBe("accepted");
        expect(
          report.problems.map((p) => p.check),
          said,
        ).toEqual([divergent.check]);
        return;
      }
      if (c.mlflow.verdict === "refused") {
        expect(report.valid, `MLflow refused: ${c.mlflow.message}`).toBe(false);
        expect(report.problems.every((p) => p.column === "x")).toBe(true);
        // Each refusal says what to do: cast, fill in, or convert.
        expect(said).toMatch(/job\.validation\.cast: \{x: unsafe\}|fill them in|Convert the column/);
        return;
      }
      expect(said).toBe("");
      const type = FEED_TYPE[c.signature];
      const datetime = c.signature === "datetime";
      expect(encoded(await streamed(source, type), type, datetime)).toEqual(
        expected(c.mlflow.values, datetime),
      );
    },
  );

  const unsafe = verdicts.cases.filter((c) => c.unsafe !== undefined);
  it.each(unsafe.map((c) => [c.id, c] as const))(
    "given %s with validation.cast: unsafe, when validated and streamed, then it feeds numpy's astype",
    async (_, c) => {
      const { source, report, said } = await validate(c, { x: "unsafe" });
      expect(said).toBe("");
      expect(report.valid).toBe(true);
      const type = FEED_TYPE[c.signature];
      const datetime = c.signature === "datetime";
      expect(encoded(await streamed(source, type), type, datetime)).toEqual(
        expected(c.unsafe!.values, datetime),
      );
    },
  );
});
