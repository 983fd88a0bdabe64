/**
 * The checks a signature column gets: MLflow's type verdict (decided after the validation pass when it
 * depends on the data: missing values make pandas read integers as float64; int64 converts to a float
 * type only when every value is 0 or 1), its missing values (fed as NaN to float and double inputs,
 * else invalid rows), and the values that do not fit the tensor type. `validation.cast: unsafe` converts
 * what MLflow refuses, each value that does not convert being an invalid row.
 */

import { type ColumnType, DUCKDB_TYPE } from "./batch.js";
import type { FeatureSpec, SignatureType } from "./columns.js";
import { type RowCheck, safe } from "./constraints.js";
import { type PandasDtype, pandasDtype } from "./pandas-dtypes.js";
import { quotedIdentifier } from "./sql.js";
import { holdsNaN, mlflowVerdict, SIGNATURE_NUMPY, type Verdict } from "./type-verdicts.js";
import type { SchemaProblem } from "./validation-report.js";

/** How column types MLflow refuses are treated: refused (`safe`), or converted (`unsafe`). */
export type Cast = "safe" | "unsafe";

/** The job's cast option: one for every column, or per column (unnamed columns: `safe`). */
export type CastPolicy = Cast | Readonly<Record<string, Cast>>;

/** The checks of one signature column, and the decision on its type once the pass counted its facts. */
export interface SignatureColumn {
  readonly checks: readonly RowCheck[];
  /** SQL aggregates the validation pass computes for {@link SignatureColumn.decide}. */
  readonly facts: readonly string[];
  /** The column's type problem, given the facts' values, or undefined when its type is accepted. */
  decide(facts: readonly number[]): SchemaProblem | undefined;
  /** The column's missing values are invalid rows (a constraint's `nullable` need not check them again). */
  readonly nullChecked: boolean;
}

const FLOAT_FEEDS: ReadonlySet<ColumnType> = new Set(["float32", "float64"]);
const INTEGER_FEEDS: ReadonlySet<ColumnType> = new Set(["int8", "int16", "int32", "int64", "uint8"]);
const INTEGER_TYPES = /^U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?$/;
const NUMBER_TYPES = /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|DECIMAL.*|BOOLEAN|VARCHAR)$/;
const TEMPORAL_TYPES = /^(DATE|TIMESTAMP.*)$/;

/** The cast option for one column. */
export function castOf(policy: CastPolicy | undefined, column: string): Cast {
  return typeof policy === "string" ? policy : (policy?.[column] ?? "safe");
}

/**
 * Plans the checks of a signature column.
 *
 * @param found - the column's DuckDB type
 * @param hint - what the file's metadata says pandas reads it as (pandas-dtypes.ts), if anything
 */
export function signatureColumn(
  feature: FeatureSpec,
  found: string,
  hint: string | undefined,
  cast: Cast,
): SignatureColumn {
  const sig = feature.signatureType;
  const col = quotedIdentifier(feature.name);
  const nan = FLOAT_FEEDS.has(feature.type) && (sig === undefined || holdsNaN(sig));
  const checks: RowCheck[] = nan ? [] : [nullCheck(feature)];
  if (sig === undefined) {
    checks.push(...convertible(feature, found));
    return { checks, facts: [], decide: () => undefined, nullChecked: !nan };
  }
  // Without missing values, and with: only float and double inputs take them (the verdict then is
  // pandas' float64's); elsewhere they are invalid rows.
  const dtypes = [pandasDtype(found, hint, false), pandasDtype(found, hint, nan)] as const;
  const verdicts = [mlflowVerdict(dtypes[0], sig), mlflowVerdict(dtypes[1], sig)] as const;
  // The counts the verdict or its message need: missing values, values other than 0 and 1.
  const counted = {
    nulls:
      (nan && dtypes[0].name !== dtypes[1].name) ||
      (dtypes[0].kind === "f" && (sig === "integer" || sig === "long")),
    others: verdicts.some((v) => v.kind === "zero-one"),
  };
  const facts = [
    ...(counted.nulls ? [`count_if(${col} IS NULL)`] : []),
    ...(counted.others ? [`count_if(${col} NOT IN (0, 1))`] : []),
  ];
  const castable = cast === "unsafe" && canCast(found, sig);
  if (castable || verdicts.some((v) => v.kind === "accept" || v.kind === "zero-one")) {
    checks.push(...convertible(feature, found));
    if (castable) checks.push(...lossChecks(feature, found));
  }
  const decide = (values: readonly number[]): SchemaProblem | undefined => {
    const nulls = counted.nulls ? (values[0] ?? 0) : 0;
    const others = counted.others ? (values[counted.nulls ? 1 : 0] ?? 0) : 0;
    const i = nan && nulls > 0 ? 1 : 0;
    const verdict = verdicts[i];
    if (verdict.kind === "accept" || (verdict.kind === "zero-one" && others === 0) || castable)
      return undefined;
    const problem = { column: feature.name, check: "type", origin: "signature" } as const;
    return {
      ...problem,
      message: typeMessage(feature, sig, found, dtypes[i], verdict, { nulls, others, cast }),
    };
  };
  return { checks, facts, decide, nullChecked: !nan };
}

/** DuckDB converts the type to what a signature type is fed as (each value may still fail). */
function canCast(found: string, sig: SignatureType): boolean {
  if (sig === "string" || sig === "binary") return true;
  if (sig === "datetime") return TEMPORAL_TYPES.test(found);
  return NUMBER_TYPES.test(found);
}

function typeMessage(
  feature: FeatureSpec,
  sig: SignatureType,
  found: string,
  dtype: PandasDtype,
  verdict: Exclude<Verdict, { kind: "accept" }>,
  facts: { readonly nulls: number; readonly others: number; readonly cast: Cast },
): string {
  const name = feature.name;
  const read =
    dtype.name === "float64" && found !== "DOUBLE"
      ? `read by pandas as float64, for its ${facts.nulls} missing values`
      : dtype.extension
        ? `read by pandas as ${dtype.name}, as its metadata says`
        : dtype.category
          ? "read by pandas as category: pyarrow stored it dictionary-encoded"
          : dtype.objects !== undefined
            ? `read by pandas as Python ${dtype.objects} objects`
            : dtype.name;
  let why: string;
  if (verdict.kind === "objects") {
    why =
      "MLflow's check hands such objects to the model unchanged, where ONNX Runtime refuses them or " +
      "receives their Python text";
  } else if (verdict.kind === "zero-one") {
    why =
      `cannot safely convert int64 to ${SIGNATURE_NUMPY[sig]}: MLflow converts int64 only when every value ` +
      `is 0 or 1 (${facts.others} are not), or when missing values make pandas read the column as float64`;
  } else {
    why = `${verdict.why} (MLflow refuses it too)`;
    if (dtype.kind === "f" && (sig === "integer" || sig === "long") && facts.nulls > 0)
      why +=
        `; it has ${facts.nulls} missing values: pandas reads an integer column with missing values as ` +
        `float64. Log the model with ${name} as double, or fill them in`;
  }
  const fix =
    facts.cast === "unsafe"
      ? `DuckDB cannot convert ${found} to ${sig}, even with job.validation.cast: unsafe. Convert the column in the data, or log the model with a signature that matches it.`
      : canCast(found, sig)
        ? `To convert it anyway (values that do not convert become invalid rows), set job.validation.cast: {${name}: unsafe}.`
        : "Convert the column in the data, or log the model with a signature that matches it.";
  return `column "${name}": expected ${sig} (${SIGNATURE_NUMPY[sig]}), found ${found} (${read}); ${why}. ${fix}`;
}

function nullCheck(feature: FeatureSpec): RowCheck {
  const sig = feature.signatureType;
  const integer = sig === "integer" || sig === "long";
  const takes =
    sig === undefined
      ? `The model's ${feature.type} input cannot hold a missing value`
      : `The model's signature takes ${sig} (${SIGNATURE_NUMPY[sig]}), which cannot hold a missing value` +
        (integer
          ? " (MLflow refuses them too)"
          : sig === "string" || sig === "binary"
            ? ' (MLflow passes them on as None or NaN, which ONNX Runtime refuses or reads as the text "None" or "nan")'
            : " (MLflow passes them on as None, which ONNX Runtime refuses)");
  const alternative = integer ? `, or log the model with ${feature.name} as double` : "";
  return {
    column: feature.name,
    check: "null",
    origin: "signature",
    expected: "not null",
    what: "null values",
    advice: `${takes}: fill them in the data, or set job.validation.on_invalid: drop${alternative}.`,
    condition: safe(`${quotedIdentifier(feature.name)} IS NULL`),
  };
}

/** For each input type, the column types DuckDB widens to it: every value converts (besides the same type). */
const WIDENS_TO: Readonly<Partial<Record<string, readonly string[]>>> = {
  BIGINT: ["TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER"],
  INTEGER: ["TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"],
  DOUBLE: ["FLOAT"],
};

/**
 * The values that do not convert to the model's input type: none to look for (no check) when the
 * conversion cannot fail (the column's type is the input's, or widens to it); the validation pass then
 * evaluates no TRY_CAST for such a column (the bikes inputs: 14 of 14 columns).
 */
function convertible(feature: FeatureSpec, found: string): RowCheck[] {
  const to = DUCKDB_TYPE[feature.type];
  if (found === to || WIDENS_TO[to]?.includes(found)) return [];
  const column = quotedIdentifier(feature.name);
  return [
    {
      column: feature.name,
      check: "unconvertible",
      origin: "signature",
      expected: `fits the model's ${feature.type} input`,
      what: `values that do not fit the model's ${feature.type} input`,
      condition: safe(`${column} IS NOT NULL AND TRY_CAST(${column} AS ${to}) IS NULL`),
    },
  ];
}

/** With `cast: unsafe`: values that would change beyond rounding (a fraction, a flag other than 0 or 1). */
function lossChecks(feature: FeatureSpec, found: string): RowCheck[] {
  const column = quotedIdentifier(feature.name);
  const check = (expected: string, what: string, condition: string): RowCheck => ({
    column: feature.name,
    check: "unconvertible",
    origin: "signature",
    expected,
    what: `${what} (cast: unsafe)`,
    condition: safe(condition),
  });
  if (INTEGER_FEEDS.has(feature.type) && !INTEGER_TYPES.test(found) && found !== "BOOLEAN") {
    const value = `TRY_CAST(${column} AS ${DUCKDB_TYPE[feature.type]})`;
    return [
      check(
        "a whole number",
        "values that are not whole numbers",
        `TRY_CAST(${column} AS DOUBLE) <> ${value}`,
      ),
    ];
  }
  if (feature.type === "bool" && found !== "VARCHAR" && found !== "BOOLEAN")
    return [check("0 or 1", "values other than 0 and 1", `${column} NOT IN (0, 1)`)];
  return [];
}
