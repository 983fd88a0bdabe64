import { MlbatchError } from "../errors.js";
import type { FeatureSpec } from "../models/model.js";
import type { SignatureType } from "../models/signature.js";
import { DUCKDB_TYPE } from "./batch.js";
import type { Database } from "./database.js";
import type { Source } from "./source.js";
import { quotedIdentifier } from "./sql.js";

/** How many failing rows a problem lists. */
const SAMPLE_ROWS = 5;

/** One problem the schema check found. */
export interface SchemaProblem {
  readonly column: string;
  readonly check: "missing" | "type" | "null" | "unconvertible";
  readonly message: string;
  /** For value checks: how many rows fail, and the first few (0-based row numbers, with id values). */
  readonly count?: number;
  readonly rows?: readonly { readonly row: number; readonly ids: Readonly<Record<string, unknown>> }[];
}

/** What each MLflow type accepts: DuckDB types that convert safely under pyfunc's rules. */
const SAFE: Readonly<Record<SignatureType, ReadonlySet<string>>> = {
  boolean: new Set(["BOOLEAN"]),
  integer: new Set(["TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT"]),
  long: new Set(["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"]),
  float: new Set(["FLOAT", "TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"]),
  double: new Set(["FLOAT", "DOUBLE", "TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER"]),
  string: new Set(["VARCHAR"]),
  binary: new Set(["BLOB"]),
  datetime: new Set([
    "DATE",
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
  ]),
};

/** numpy's names, which MLflow users know from pyfunc's errors. */
const NUMPY: Readonly<Record<string, string>> = {
  BOOLEAN: "bool",
  TINYINT: "int8",
  SMALLINT: "int16",
  INTEGER: "int32",
  BIGINT: "int64",
  UTINYINT: "uint8",
  USMALLINT: "uint16",
  UINTEGER: "uint32",
  UBIGINT: "uint64",
  FLOAT: "float32",
  DOUBLE: "float64",
  VARCHAR: "str",
  BLOB: "bytes",
};
const SIGNATURE_NUMPY: Readonly<Record<SignatureType, string>> = {
  boolean: "bool",
  integer: "int32",
  long: "int64",
  float: "float32",
  double: "float64",
  string: "str",
  binary: "bytes",
  datetime: "datetime64",
};

/**
 * Checks the inputs against what the model reads, before anything is predicted: every missing column,
 * every column whose type does not convert safely to its signature type (pyfunc's rules: wider of the
 * same kind, unsigned to wider signed, integers of up to 4 bytes to double), then, in one pass over the
 * data, null values and values that do not fit the tensor type they feed (e.g. an int64 beyond int32).
 *
 * @param db - the job's database
 * @param source - the opened inputs
 * @param features - the columns the model reads
 * @param model - the model URI, for messages
 * @throws MlbatchError `E_SCHEMA` whose message lists every problem, each with its column
 */
export async function checkInputs(
  db: Database,
  source: Source,
  features: readonly FeatureSpec[],
  model: string,
): Promise<void> {
  const problems: SchemaProblem[] = [];
  for (const feature of features) {
    const found = source.typeOf(feature.name);
    if (found === undefined) {
      problems.push({
        column: feature.name,
        check: "missing",
        message: `column "${feature.name}" is missing`,
      });
    } else if (feature.signatureType !== undefined && !SAFE[feature.signatureType].has(found)) {
      const expected = `${feature.signatureType} (${SIGNATURE_NUMPY[feature.signatureType]})`;
      problems.push({
        column: feature.name,
        check: "type",
        message: `column "${feature.name}": expected ${expected}, found ${found} (${NUMPY[found] ?? found}); cannot safely convert ${NUMPY[found] ?? found} to ${SIGNATURE_NUMPY[feature.signatureType]}`,
      });
    }
  }
  if (problems.length === 0) problems.push(...(await checkValues(db, source, features)));
  if (problems.length === 0) return;
  const columns = source.columns.map((c) => `${c.name} ${c.type}`).join(", ");
  throw Object.assign(
    new MlbatchError(
      "E_SCHEMA",
      `inputs "${source.label}" do not match the signature of model ${model}:\n` +
        problems.map((p) => `  - ${p.message}`).join("\n") +
        `\ninput columns: ${columns}\nFix the input data or register a model whose signature matches it.`,
    ),
    { problems },
  );
}

async function checkValues(
  db: Database,
  source: Source,
  features: readonly FeatureSpec[],
): Promise<SchemaProblem[]> {
  const checks = features.flatMap((feature) => {
    const column = quotedIdentifier(feature.name);
    return [
      { feature, check: "null" as const, condition: `${column} IS NULL` },
      {
        feature,
        check: "unconvertible" as const,
        condition: `${column} IS NOT NULL AND TRY_CAST(${column} AS ${DUCKDB_TYPE[feature.type]}) IS NULL`,
      },
    ];
  });
  const counts = await db.rows(
    `SELECT ${checks.map((c, i) => `count(*) FILTER (WHERE ${c.condition}) AS c${i}`).join(", ")} FROM ${source.query()}`,
  );
  const problems: SchemaProblem[] = [];
  for (const [i, c] of checks.entries()) {
    const count = Number(counts[0]?.[`c${i}`] ?? 0);
    if (count === 0) continue;
    const ids = source.idColumns.map(quotedIdentifier);
    const rows = await db.rows(
      `SELECT ${["__mlbatch_row", ...ids].join(", ")} FROM ${source.query("*", true)} WHERE ${c.condition} ORDER BY __mlbatch_row LIMIT ${SAMPLE_ROWS}`,
    );
    const sample = rows.map((row) => ({
      row: Number(row.__mlbatch_row),
      ids: Object.fromEntries(source.idColumns.map((id) => [id, row[id]])),
    }));
    const where = sample
      .map((s) =>
        source.idColumns.length === 0
          ? `${s.row}`
          : `${s.row} (${Object.entries(s.ids)
              .map(([k, v]) => `${k}=${v}`)
              .join(", ")})`,
      )
      .join(", ");
    const what =
      c.check === "null" ? "null values" : `values that do not fit the model's ${c.feature.type} input`;
    problems.push({
      column: c.feature.name,
      check: c.check,
      count,
      rows: sample,
      message: `column "${c.feature.name}": ${count} ${what}; first rows (0-based): ${where}`,
    });
  }
  return problems;
}
