/**
 * Input profiles: per column the count, nulls, min, max, mean, quantiles and a histogram (numbers), or the
 * most frequent values (text, booleans), computed by DuckDB. A profile made against a reference takes the
 * reference's bins and categories, so the two compare bin by bin (data/drift.ts), and is one pass over
 * the rows; a reference's own profile takes two (its quantiles give its bins, then the bins are counted).
 */
import { MlbatchError, messageOf } from "../errors.js";
import type {
  CategoricalProfile,
  ColumnProfile,
  DataProfile,
  Histogram,
  NumericProfile,
} from "../report/sections.js";
import type { Database } from "./database.js";
import type { SourceColumn } from "./source.js";
import { quotedIdentifier, quotedString } from "./sql.js";

/** The quantiles a profile holds. */
export const QUANTILES = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99] as const;
/** The quantiles whose values are a reference's bin edges (deciles: ten bins of about a tenth each). */
const EDGE_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] as const;
/**
 * Up to this many rows a reference's quantiles (and so its bins) are exact, as numpy's; beyond, t-digest's:
 * DuckDB's exact quantiles hold and sort every value, 0.6 s per column and million rows on this machine,
 * where t-digest takes a tenth of that in bounded memory.
 */
export const EXACT_QUANTILE_ROWS = 500_000;
/** The most frequent values a categorical column's profile keeps. */
const TOP_VALUES = 20;

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\))$/;
const CATEGORICAL = /^(VARCHAR|BOOLEAN|ENUM\(.*\))$/;

/** The kind of profile a DuckDB column type gets, or undefined for a type not profiled (lists, dates). */
export function profileKind(type: string): ColumnProfile["kind"] | undefined {
  if (NUMERIC.test(type)) return "numeric";
  if (CATEGORICAL.test(type)) return "categorical";
  return undefined;
}

/** What {@link profileTable} profiles. */
export interface ProfileRequest {
  /** A SQL table expression over the rows, e.g. `Source.query()` or `read_parquet('train.parquet')`. */
  readonly table: string;
  /** The rows as the user named them, for the profile and for messages. */
  readonly label: string;
  /** The columns to profile (others of the table are ignored; types not profiled are skipped). */
  readonly columns: readonly SourceColumn[];
  /** Take its bins and categories (for the columns it profiles): one pass over the rows. */
  readonly reference?: DataProfile | undefined;
}

/**
 * Profiles the columns of a table (see the module's comment).
 *
 * @returns the profile; a column whose type is not profiled is left out
 * @throws MlbatchError `E_READ` naming the rows when DuckDB cannot read them
 * @example
 * ```ts
 * const reference = await profileTable(db, { table: "read_parquet('train.parquet')", label: "train", columns });
 * const today = await profileTable(db, { table: source.query(), label: source.label, columns, reference });
 * ```
 */
export async function profileTable(db: Database, request: ProfileRequest): Promise<DataProfile> {
  const columns = request.columns.filter((c) => profileKind(c.type) !== undefined);
  try {
    // A reference is one pass with t-digest's quantiles; a table's own profile is exact when not too large.
    const exact =
      request.reference === undefined &&
      Number((await db.rows(`SELECT count(*) AS n FROM ${request.table}`))[0]?.n ?? 0) <= EXACT_QUANTILE_ROWS;
    const quantile = exact ? "quantile_cont" : "approx_quantile";
    const reference = request.reference ?? (await ownBins(db, request.table, columns, quantile));
    return await profilePass(db, request, columns, reference, quantile);
  } catch (error) {
    if (error instanceof MlbatchError) throw error;
    throw new MlbatchError(
      "E_READ",
      `cannot profile "${request.label}": ${messageOf(error)}. Check that it is readable and holds the columns.`,
      { cause: error },
    );
  }
}

/** Bins of the table's own: its numeric columns' deciles, its categorical columns' most frequent values. */
async function ownBins(
  db: Database,
  table: string,
  columns: readonly SourceColumn[],
  quantile: Quantile,
): Promise<DataProfile> {
  const numeric = columns.filter((c) => profileKind(c.type) === "numeric");
  const categorical = columns.filter((c) => profileKind(c.type) === "categorical");
  const profiled: Record<string, ColumnProfile> = {};
  if (numeric.length > 0) {
    const select = numeric.map(
      (c, i) => `${quantile}(${asDouble(c.name)}, [${EDGE_QUANTILES.join(", ")}]) AS q${i}`,
    );
    const [row] = await db.rows(`SELECT ${select.join(", ")} FROM ${table}`);
    numeric.forEach((c, i) => {
      const deciles = ((row?.[`q${i}`] as (number | null)[] | null) ?? []).filter(
        (v): v is number => v !== null && Number.isFinite(v),
      );
      profiled[c.name] = emptyNumeric([...new Set(deciles)].sort((a, b) => a - b));
    });
  }
  if (categorical.length > 0) {
    const tops = categorical.map(
      (c, i) =>
        `(SELECT ${i} AS c, v, n FROM (SELECT CAST(${quotedIdentifier(c.name)} AS VARCHAR) AS v, count(*) AS n ` +
        `FROM ${table} WHERE ${quotedIdentifier(c.name)} IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ${TOP_VALUES}))`,
    );
    const rows = await db.rows(tops.join(" UNION ALL "));
    categorical.forEach((c, i) => {
      const top = rows.filter((r) => Number(r.c) === i).map((r) => ({ value: String(r.v), count: 0 }));
      profiled[c.name] = { kind: "categorical", count: 0, nulls: 0, top, other: 0 };
    });
  }
  return { mlbatch_profile: 1, source: table, rows: 0, columns: profiled };
}

function emptyNumeric(edges: readonly number[]): NumericProfile {
  const histogram: Histogram = { edges, counts: [] };
  return { kind: "numeric", count: 0, nulls: 0, min: null, max: null, mean: null, quantiles: {}, histogram };
}

/** The one pass: every figure of every column, binned as `bins` says. */
async function profilePass(
  db: Database,
  request: ProfileRequest,
  columns: readonly SourceColumn[],
  bins: DataProfile,
  quantile: Quantile,
): Promise<DataProfile> {
  const select = ["count(*) AS __rows"];
  const plans = columns.map((c, i) => {
    const kind = profileKind(c.type)!;
    const binned = bins.columns[c.name];
    const column = quotedIdentifier(c.name);
    if (kind === "numeric") {
      const value = asDouble(c.name);
      select.push(`count(${value}) AS n${i}`);
      const edges = binned?.kind === "numeric" ? binned.histogram.edges : [];
      select.push(
        `min(${value}) AS lo${i}`,
        `max(${value}) AS hi${i}`,
        `avg(${value}) AS mean${i}`,
        `${quantile}(${value}, [${QUANTILES.join(", ")}]) AS q${i}`,
        edges.length === 0 ? `NULL AS h${i}` : `histogram(${value}, ${doubleList(edges)}) AS h${i}`,
      );
      return { column: c, kind, edges, values: [] as string[] };
    }
    select.push(`count(${column}) AS n${i}`);
    const values = binned?.kind === "categorical" ? binned.top.map((t) => t.value) : [];
    const text = `CAST(${column} AS VARCHAR)`;
    select.push(...values.map((v, b) => `count_if(${text} = ${quotedString(v)}) AS b${i}_${b}`));
    return { column: c, kind, edges: [] as number[], values };
  });
  const [row = {}] = await db.rows(`SELECT ${select.join(", ")} FROM ${request.table}`);
  const rows = Number(row.__rows ?? 0);
  const profiled: Record<string, ColumnProfile> = {};
  plans.forEach((plan, i) => {
    const count = Number(row[`n${i}`] ?? 0);
    const counted = (bins: number) => Array.from({ length: bins }, (_, b) => Number(row[`b${i}_${b}`] ?? 0));
    if (plan.kind === "numeric") {
      const q = (row[`q${i}`] as (number | null)[] | null) ?? [];
      const bins = plan.edges.length === 0 ? [count] : binsOf(row[`h${i}`], plan.edges);
      const numeric: NumericProfile = {
        kind: "numeric",
        count,
        nulls: rows - count,
        min: numberOrNull(row[`lo${i}`]),
        max: numberOrNull(row[`hi${i}`]),
        mean: numberOrNull(row[`mean${i}`]),
        quantiles: Object.fromEntries(QUANTILES.map((p, k) => [String(p), numberOrNull(q[k])])),
        histogram: { edges: plan.edges, counts: bins },
      };
      profiled[plan.column.name] = numeric;
    } else {
      const counts = counted(plan.values.length);
      const top = plan.values.map((value, b) => ({ value, count: counts[b]! }));
      const categorical: CategoricalProfile = {
        kind: "categorical",
        count,
        nulls: rows - count,
        top,
        other: count - counts.reduce((a, b) => a + b, 0),
      };
      profiled[plan.column.name] = categorical;
    }
  });
  return { mlbatch_profile: 1, source: request.label, rows, columns: profiled };
}

/** DuckDB's exact quantiles (they hold every value), or t-digest's approximate ones (bounded memory). */
type Quantile = "quantile_cont" | "approx_quantile";

/** The edges as a DuckDB list of doubles (each written so that it reads back as the same double). */
function doubleList(edges: readonly number[]): string {
  return `[${edges.map((e) => `CAST(${String(e)} AS DOUBLE)`).join(", ")}]::DOUBLE[]`;
}

/**
 * DuckDB's `histogram(x, boundaries)` as bin counts, in order: its map gives each boundary the values
 * `<=` it and above the one before, and `inf` those above the last (that key only when some are).
 */
function binsOf(map: unknown, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const { key, value } of (map as { key: unknown; value: unknown }[] | null) ?? []) {
    const at = edges.indexOf(Number(key));
    counts[at < 0 ? edges.length : at] = Number(value);
  }
  return counts;
}

/** A numeric column as DOUBLE, NaN as null (a NaN has no place in a bin or a mean). */
function asDouble(name: string): string {
  const column = quotedIdentifier(name);
  return `CASE WHEN isnan(CAST(${column} AS DOUBLE)) THEN NULL ELSE CAST(${column} AS DOUBLE) END`;
}

function numberOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}
