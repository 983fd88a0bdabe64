/**
 * Column constraints from the config (like a pandera schema): `dtype`, `nullable`, `ge`, `gt`, `le`, `lt`,
 * `isin`, `regex`, compiled to SQL conditions that are true for the rows that fail them.
 */
import * as z from "zod";
import { quotedIdentifier, quotedString } from "./sql.js";

/** The types `dtype` accepts: MLflow's names, and numpy's as pandera users write them. */
export const DTYPE_SQL = {
  boolean: "BOOLEAN",
  integer: "INTEGER",
  long: "BIGINT",
  float: "FLOAT",
  double: "DOUBLE",
  string: "VARCHAR",
  datetime: "TIMESTAMP",
  bool: "BOOLEAN",
  int8: "TINYINT",
  int16: "SMALLINT",
  int32: "INTEGER",
  int64: "BIGINT",
  uint8: "UTINYINT",
  uint16: "USMALLINT",
  uint32: "UINTEGER",
  uint64: "UBIGINT",
  float32: "FLOAT",
  float64: "DOUBLE",
  str: "VARCHAR",
  datetime64: "TIMESTAMP",
} as const;
export type Dtype = keyof typeof DTYPE_SQL;

const Bound = z.union([z.number(), z.string()]);

/** The constraints on one column. */
export const ColumnConstraint = z
  .strictObject({
    dtype: z
      .enum(Object.keys(DTYPE_SQL) as [Dtype, ...Dtype[]])
      .optional()
      .describe(
        "Every non-null value converts to this type (integers must be whole); the other checks then " +
          "compare the converted values.",
      ),
    nullable: z.boolean().default(false).describe("Null values are allowed (pandera's default: false)."),
    ge: Bound.optional().describe("Values are >= this (a number, or a string for text and dates)."),
    gt: Bound.optional().describe("Values are > this."),
    le: Bound.optional().describe("Values are <= this."),
    lt: Bound.optional().describe("Values are < this."),
    isin: z
      .array(z.union([z.number(), z.string(), z.boolean()]))
      .min(1)
      .optional()
      .describe("Values are one of these."),
    regex: z
      .string()
      .min(1)
      .optional()
      .describe("Values, as text, match this whole regular expression (RE2 syntax)."),
  })
  .describe("Checks on one input column; null values fail only `nullable: false`.");
export type ColumnConstraint = z.infer<typeof ColumnConstraint>;

/** `column name -> constraints`. */
export const Constraints = z
  .record(z.string().min(1), ColumnConstraint)
  .describe("Constraints per input column, checked with the signature, e.g. {hr: {ge: 0, le: 23}}.");
export type Constraints = z.infer<typeof Constraints>;

/** The name of a check, as reports and tests refer to it. */
export type CheckName =
  | "missing"
  | "type"
  | "null"
  | "unconvertible"
  | "dtype"
  | "ge"
  | "gt"
  | "le"
  | "lt"
  | "isin"
  | "regex";

/** A check of each row: its SQL condition is true (never null) for the rows that fail it. */
export interface RowCheck {
  readonly column: string;
  readonly check: CheckName;
  /** Where the check comes from: the model's signature, or the job's constraints. */
  readonly origin: "signature" | "constraints";
  /** What a valid value is, for people: `>= 0`, `in [1, 2, 3, 4]`, `not null`. */
  readonly expected: string;
  /** What failing values are, for messages: `values below 0`. */
  readonly what: string;
  /** What to do about them, for messages (after the first rows). */
  readonly advice?: string;
  readonly condition: string;
}

/** A constraint that cannot apply to a column of its type (e.g. `ge: 0` on text). */
export interface ConstraintMismatch {
  readonly column: string;
  readonly check: CheckName;
  readonly message: string;
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$/;
const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const TEMPORAL = /^(DATE|TIME|TIMESTAMP.*)$/;

/**
 * Compiles one column's constraints, given the column's DuckDB type, into row checks (and the constraints
 * that cannot apply to that type).
 *
 * @param nullChecked - the column already has a null check (the signature's): do not add another
 */
export function compileConstraint(
  column: string,
  type: string,
  constraint: ColumnConstraint,
  nullChecked: boolean,
): { checks: RowCheck[]; mismatches: ConstraintMismatch[] } {
  const checks: RowCheck[] = [];
  const mismatches: ConstraintMismatch[] = [];
  const col = quotedIdentifier(column);
  const add = (check: CheckName, expected: string, what: string, condition: string) =>
    checks.push({ column, check, origin: "constraints", expected, what, condition: safe(condition) });

  if (!constraint.nullable && !nullChecked)
    add("null", "not null", "null values (nullable: false)", `${col} IS NULL`);
  let value = col;
  let valueType = type;
  if (constraint.dtype !== undefined) {
    const target = DTYPE_SQL[constraint.dtype];
    if (target !== type) {
      value = `TRY_CAST(${col} AS ${target})`;
      valueType = target;
      const lossy =
        INTEGER.test(target) && !INTEGER.test(type) ? ` OR TRY_CAST(${col} AS DOUBLE) <> ${value}` : "";
      add(
        "dtype",
        `converts to ${constraint.dtype}`,
        `values that do not convert to ${constraint.dtype} (dtype: ${constraint.dtype})`,
        `${col} IS NOT NULL AND (${value} IS NULL${lossy})`,
      );
    }
  }
  const bounds = [
    ["ge", ">=", "<", "below"],
    ["gt", ">", "<=", "not above"],
    ["le", "<=", ">", "above"],
    ["lt", "<", ">=", "not below"],
  ] as const;
  for (const [check, op, failing, word] of bounds) {
    const bound = constraint[check];
    if (bound === undefined) continue;
    const literal = literalFor(bound, valueType);
    if (literal === undefined) {
      mismatches.push(mismatch(column, check, bound, valueType));
      continue;
    }
    add(
      check,
      `${op} ${show(bound)}`,
      `values ${word} ${show(bound)} (${check}: ${show(bound)})`,
      `${value} ${failing} ${literal}`,
    );
  }
  if (constraint.isin !== undefined) {
    const literals = constraint.isin.map((v) => literalFor(v, valueType));
    const bad = constraint.isin.find((_, i) => literals[i] === undefined);
    if (bad !== undefined) {
      mismatches.push(mismatch(column, "isin", bad, valueType));
    } else {
      const list = `[${constraint.isin.map(show).join(", ")}]`;
      add("isin", `in ${list}`, `values not in ${list} (isin)`, `${value} NOT IN (${literals.join(", ")})`);
    }
  }
  if (constraint.regex !== undefined) {
    add(
      "regex",
      `matches ${constraint.regex}`,
      `values not matching ${constraint.regex} (regex)`,
      `NOT regexp_full_match(CAST(${value} AS VARCHAR), ${quotedString(constraint.regex)})`,
    );
  }
  return { checks, mismatches };
}

/** A failing-row condition that is false, not null, for null values, so `NOT` of it keeps them. */
export function safe(condition: string): string {
  return `coalesce((${condition}), false)`;
}

/** The SQL literal of a constraint value compared with a column of `type`, or undefined when it cannot be. */
function literalFor(value: number | string | boolean, type: string): string | undefined {
  if (typeof value === "number")
    return NUMERIC.test(type) && Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === "boolean") return type === "BOOLEAN" ? String(value) : undefined;
  if (type === "VARCHAR") return quotedString(value);
  if (TEMPORAL.test(type)) return `CAST(${quotedString(value)} AS ${type})`;
  return undefined;
}

function mismatch(column: string, check: CheckName, value: unknown, type: string): ConstraintMismatch {
  return {
    column,
    check,
    message:
      `column "${column}": constraint ${check} ${show(value)} cannot be checked on a ${type} column ` +
      `(a ${typeof value} compared with ${type}); fix job.validation.constraints.${column} or set its dtype`,
  };
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
