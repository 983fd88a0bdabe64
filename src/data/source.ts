import type { DuckDBResultReader } from "@duckdb/node-api";
import { MlbatchError } from "../errors.js";
import { allocate, type Batch, type Column, type ColumnType, DUCKDB_TYPE, head } from "./batch.js";
import { CarriedRows } from "./carried.js";
import type { CompressedFiles } from "./compressed-files.js";
import type { Database } from "./database.js";
import { ReadAhead } from "./read-ahead.js";
import { condensedReadError, failedFile, namesNoLine } from "./read-errors.js";
import { fetchedParts, type SourceParts } from "./source-parts.js";
import { identifierList, quotedIdentifier } from "./sql.js";
import { copyFromChunk } from "./vectors.js";

/** Chunks (of 2,048 rows) fetched ahead of the batches: one batch of the default size. */
const READ_AHEAD = 8;

/** The largest float32, as DuckDB parses a double literal: `(2 - 2^-23) * 2^127`. */
const FLOAT32_MAX = "3.4028234663852886e38";

/** A column of a source table, with its DuckDB type name (`BIGINT`, `DOUBLE`, `VARCHAR`, ...). */
export interface SourceColumn {
  readonly name: string;
  readonly type: string;
}

/** A column to stream, cast in SQL to the element type the consumer wants. */
export interface ColumnRequest {
  readonly name: string;
  readonly type: ColumnType;
}

/** A batch of features, with the rows of the columns the outputs carry when some were asked for. */
export interface CarriedBatch extends Batch {
  readonly carried?: CarriedRows | undefined;
}

/** What a reader found when it opened its input. */
export interface SourceOptions {
  /** The SQL table expression that reads the input, e.g. `read_parquet('data/x.parquet')`. */
  readonly from: string;
  /** The input as the user named it, for messages. */
  readonly label: string;
  readonly limit?: number | undefined;
  /** Columns that identify rows (e.g. a pandas index), passed through to the outputs. */
  readonly idColumns?: readonly string[];
  /**
   * A SQL condition rows must meet, applied after `limit` (e.g. "passes validation"): every query and
   * stream of the source sees the same rows, in input order.
   */
  readonly where?: string | undefined;
  /** The files read, to name the one an error is about. */
  readonly files?: readonly string[] | undefined;
  /** The running whole-file check of the compressed files among them, see {@link Source.verify}. */
  readonly compressed?: CompressedFiles | undefined;
  /**
   * For a DuckDB error that names no line (a CSV sniffer that gave up): DuckDB's text for the first bad
   * line of the file, found by reading it again, or undefined.
   */
  readonly diagnose?: ((file: string) => Promise<string | undefined>) | undefined;
  /**
   * The input is read part by part (see {@link SourceParts}): `from` names the part being read by the
   * parts' token. Full passes over it go through {@link Source.passes} or {@link Source.batches}.
   */
  readonly parts?: SourceParts | undefined;
}

/** A SQL query over the rows of one part of a source (or all of them), as {@link Source.query} builds it. */
export type PartQuery = (select?: string, rowIndex?: boolean) => string;

/**
 * An opened input table, read by DuckDB: its columns, and SQL over it. Data rows are only ever streamed
 * as columnar {@link Batch}es.
 *
 * @example
 * ```ts
 * const source = await Source.open(db, { from: "read_parquet('in.parquet')", label: "in.parquet" });
 * for await (const batch of source.batches([{ name: "hr", type: "int64" }], 65_536)) { ... }
 * ```
 */
export class Source {
  private constructor(
    private readonly db: Database,
    private readonly options: SourceOptions,
    /** The columns of the input, in order. */
    readonly columns: readonly SourceColumn[],
  ) {}

  /**
   * Describes the input (this reads its schema, not its data).
   *
   * @throws MlbatchError `E_READ` when DuckDB cannot read it
   */
  static async open(db: Database, options: SourceOptions): Promise<Source> {
    try {
      const rows = await db.rows(`DESCRIBE SELECT * FROM ${bound(options)}`);
      const columns = rows.map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
      return new Source(db, options, columns);
    } catch (error) {
      throw await readFailure(options, error);
    }
  }

  /**
   * Waits for the whole-file check of the compressed inputs, which runs while DuckDB reads them: DuckDB
   * reads a truncated or corrupt gzip or zstd file as fewer rows. {@link Source.batches} waits for it
   * before its last batch; a consumer that reads the rows through {@link Source.query} waits for it
   * before it trusts them.
   *
   * @throws MlbatchError `E_READ` naming the first damaged file
   */
  async verify(): Promise<void> {
    const damaged = await this.options.compressed?.damage();
    if (damaged !== undefined) throw damaged;
  }

  /**
   * The `E_READ` for an error DuckDB raised while reading this source: the damaged file when the
   * whole-file check finds one (DuckDB often reports a cut file as a row with missing fields), else
   * DuckDB's error condensed to which file, which line, what is wrong and what to do.
   */
  async readFailure(error: unknown): Promise<MlbatchError> {
    return readFailure(this.options, error);
  }

  /** The input as the user named it. */
  get label(): string {
    return this.options.label;
  }

  /** Columns that identify rows, as found in the input's metadata (may be empty). */
  get idColumns(): readonly string[] {
    return this.options.idColumns ?? [];
  }

  /** The files read (empty when the source is not read from files). */
  get files(): readonly string[] {
    return this.options.files ?? [];
  }

  /** The SQL condition rows are filtered by, if any. */
  get condition(): string | undefined {
    return this.options.where;
  }

  /**
   * The same input, keeping only the rows that meet `condition` (and any condition this source already
   * has). Row numbers from {@link Source.query} stay input row numbers.
   */
  where(condition: string): Source {
    const where = this.options.where === undefined ? condition : `(${this.options.where}) AND (${condition})`;
    return new Source(this.db, { ...this.options, where }, this.columns);
  }

  /**
   * The same input with a list column spread into one column per element, `<name>_0` ... `<name>_<k-1>`
   * (after the others; the list column is kept), for a model that takes its rows as one tensor. A fixed-size
   * list (`FLOAT[12]`) has its size in its type; a variable one (`FLOAT[]`) must hold as many values in
   * every row, which takes one pass over the data to check.
   *
   * @returns the spread input and the names of the element columns, in order
   * @throws MlbatchError `E_SCHEMA` when the rows' lists differ in length (or hold none); `E_READ` when
   * the data cannot be read
   */
  async spreadList(name: string): Promise<{ source: Source; columns: string[] }> {
    const type = this.typeOf(name) ?? "";
    let width = Number(/\[(\d+)\]$/.exec(type)?.[1] ?? Number.NaN);
    if (Number.isNaN(width)) {
      const column = quotedIdentifier(name);
      const lengths = await this.read(() =>
        this.passes(async (query) => {
          const [found] = await this.db.rows(
            `SELECT min(len(${column}))::BIGINT AS lo, max(len(${column}))::BIGINT AS hi FROM ${query()}`,
          );
          return found;
        }),
      );
      const seen = lengths.filter((l) => l?.lo !== null && l?.lo !== undefined);
      const lo = seen.length === 0 ? 0 : Math.min(...seen.map((l) => Number(l?.lo)));
      const hi = Math.max(0, ...seen.map((l) => Number(l?.hi)));
      if (lo !== hi || hi === 0) {
        throw new MlbatchError(
          "E_SCHEMA",
          `column "${name}" of inputs "${this.label}" holds lists of ${lo} to ${hi} values: a tensor input takes ` +
            "the same number of values in every row. Fix the data, or write it as a fixed-size list.",
        );
      }
      width = hi;
    }
    const columns = Array.from({ length: width }, (_, i) => `${name}_${i}`);
    const spread = columns.map((c, i) => `${quotedIdentifier(name)}[${i + 1}] AS ${quotedIdentifier(c)}`);
    const from = `(SELECT *, ${spread.join(", ")} FROM ${this.options.from})`;
    return { source: await Source.open(this.db, { ...this.options, from }), columns };
  }

  /** True for a list column (a variable `FLOAT[]` or a fixed-size `FLOAT[12]`) of numbers or booleans. */
  isNumericList(name: string): boolean {
    return /^(FLOAT|DOUBLE|TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|BOOLEAN|DECIMAL\(\d+,\d+\))\[\d*\]$/.test(
      this.typeOf(name) ?? "",
    );
  }

  /** The type of a column, or undefined when the input has no such column. */
  typeOf(name: string): string | undefined {
    return this.columns.find((column) => column.name === name)?.type;
  }

  /**
   * A parenthesised SQL query over the input (its `limit`, then its condition applied), selecting the
   * given SQL expressions; `rowIndex` adds the 0-based input row number (counted before the condition)
   * as column `__mlbatch_row`.
   *
   * @throws MlbatchError `E_READ` for an input read part by part: it has no one query ({@link Source.passes})
   */
  query(select = "*", rowIndex = false): string {
    if (this.options.parts !== undefined) {
      throw new MlbatchError(
        "E_READ",
        `cannot read inputs "${this.label}" in one query: they are read row group by row group from the ` +
          "object store, and this step needs them whole. Report this as a bug.",
      );
    }
    return rowsQuery(
      this.options.from,
      this.options,
      { firstRow: 0, limit: this.options.limit },
      select,
      rowIndex,
    );
  }

  /**
   * The source's query with no rows (its columns, for binding SQL to), read from nothing but metadata.
   */
  emptyQuery(select = "*"): string {
    return `(SELECT ${select} FROM ${bound(this.options)} LIMIT 0)`;
  }

  /**
   * Runs `pass` over every part of the input in turn, each part fetched (and the next one meanwhile),
   * then released; an input read whole is one part. `query` is {@link Source.query} for that part: its
   * row numbers are the input's, its `limit` the input's.
   *
   * @returns the results of the parts, in input order
   */
  async passes<T>(pass: (query: PartQuery) => Promise<T>): Promise<T[]> {
    const results: T[] = [];
    for await (const query of this.partQueries()) results.push(await pass(query));
    return results;
  }

  /** The query of each part, each part readable until the next is asked for (see {@link fetchedParts}). */
  private async *partQueries(): AsyncGenerator<PartQuery> {
    const { parts, limit } = this.options;
    if (parts === undefined) {
      yield (select, rowIndex) => this.query(select, rowIndex);
      return;
    }
    for await (const part of fetchedParts(parts.parts, limit)) {
      const from = this.options.from.replaceAll(parts.token, part.table);
      const partLimit =
        limit === undefined || limit - part.firstRow >= part.rows ? undefined : limit - part.firstRow;
      yield (select = "*", rowIndex = false) =>
        rowsQuery(from, this.options, { firstRow: part.firstRow, limit: partLimit }, select, rowIndex);
    }
  }

  /** A query over the named columns only. */
  project(names: readonly string[]): string {
    return this.query(identifierList(names));
  }

  /**
   * Streams the requested columns in batches of `batchSize` rows (the last one shorter), each column cast
   * in SQL to its requested type ({@link feedExpression}: a missing value in a float column is NaN). A
   * batch's arrays are reused for the next one: consume a batch before asking for the next. The
   * `carried` columns come with each batch, uncast, in arrays of its own (see {@link CarriedRows}).
   *
   * @param carried - input columns to read with the features, as they are (ids, passthrough)
   * @throws MlbatchError `E_READ` when DuckDB fails while reading
   */
  async *batches(
    requests: readonly ColumnRequest[],
    batchSize: number,
    carried: readonly string[] = [],
  ): AsyncGenerator<CarriedBatch> {
    const select = [
      ...requests.map((r) => `${feedExpression(r, this.typeOf(r.name))} AS ${quotedIdentifier(r.name)}`),
      // Named apart: a carried column may also feed the model.
      ...carried.map(
        (name, i) => `${quotedIdentifier(name)} AS ${quotedIdentifier(`__mlbatch_carried_${i}`)}`,
      ),
    ].join(", ");
    const buffers = requests.map((r) => allocate(r.type, batchSize));
    let filled = 0;
    let rows: CarriedRows | undefined;
    let types: ReturnType<DuckDBResultReader["columnTypes"]> | undefined;
    const batch = (length: number): CarriedBatch => ({
      length,
      columns: requests.map(
        (r, i): Column => ({ name: r.name, type: r.type, data: head(buffers[i]!, length) }),
      ),
      carried: rows,
    });
    // Batches run across parts: a batch may hold the end of one part and the start of the next.
    for await (const query of this.partQueries()) {
      const stream = await this.read(() => this.db.connection.stream(`SELECT ${select} FROM ${query()}`));
      const streamed = stream.columnTypes();
      if (types === undefined) {
        types = streamed.slice(requests.length);
        rows = carried.length === 0 ? undefined : new CarriedRows(types, batchSize);
      }
      // Chunks are fetched (on DuckDB's thread) while earlier ones are copied and predicted.
      const chunks = new ReadAhead(
        () => this.read(() => stream.fetchChunk()),
        (chunk) => chunk === null || chunk.rowCount === 0,
        READ_AHEAD,
      );
      try {
        for (;;) {
          const chunk = await chunks.next();
          if (!chunk) break;
          let from = 0;
          while (from < chunk.rowCount) {
            const count = Math.min(chunk.rowCount - from, batchSize - filled);
            requests.forEach((r, i) => {
              copyFromChunk(chunk, i, streamed[i]!, r.type, from, count, buffers[i]!, filled);
            });
            rows?.copy(chunk, requests.length, from, count);
            from += count;
            filled += count;
            if (filled === batchSize) {
              yield batch(filled);
              filled = 0;
              rows = rows && new CarriedRows(types, batchSize);
            }
          }
        }
      } finally {
        await chunks.settle();
      }
    }
    await this.verify();
    if (filled > 0) yield batch(filled);
  }

  private async read<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw await this.readFailure(error);
    }
  }
}

/**
 * The SQL that gives a column as the type a model is fed: a cast, with missing values as NaN in float
 * columns (as pandas holds them, and as MLflow feeds them), doubles beyond the float32 range as infinities
 * (numpy's float64 to float32, as MLflow's onnx flavor casts them; DuckDB's cast would fail), and
 * time-zone-aware timestamps as UTC text (not in the session's time zone).
 */
export function feedExpression(request: ColumnRequest, found: string | undefined): string {
  const column = quotedIdentifier(request.name);
  const type = DUCKDB_TYPE[request.type];
  if (request.type === "float32" && found === "DOUBLE") {
    // Within float32's range DuckDB's cast rounds as numpy does and cannot fail: one comparison for the
    // common case, the slower expression only for the rest (nulls, NaN, infinities, beyond the range).
    // The bench inputs (1M rows, 4 such columns of 14): the stream's CPU 0.32 s → 0.26 s, medians
    // (docs/benchmarks.md).
    const rest =
      `COALESCE(TRY_CAST(${column} AS FLOAT), CASE WHEN ${column} > 0 THEN CAST('inf' AS FLOAT) ` +
      `WHEN ${column} < 0 THEN CAST('-inf' AS FLOAT) ELSE CAST('NaN' AS FLOAT) END)`;
    return (
      `CASE WHEN ${column} BETWEEN -${FLOAT32_MAX} AND ${FLOAT32_MAX} ` +
      `THEN CAST(${column} AS FLOAT) ELSE ${rest} END`
    );
  }
  if (request.type === "float32" || request.type === "float64")
    return `COALESCE(CAST(${column} AS ${type}), CAST('NaN' AS ${type}))`;
  if (request.type === "string" && found === "TIMESTAMP WITH TIME ZONE")
    return `CAST(timezone('UTC', ${column}) AS VARCHAR)`;
  return `CAST(${column} AS ${type})`;
}

async function readFailure(options: SourceOptions, error: unknown): Promise<MlbatchError> {
  if (error instanceof MlbatchError) return error;
  const part = options.parts?.failure?.(error);
  if (part !== undefined) return part;
  const files = options.files ?? [];
  const file = failedFile(error, files);
  const damaged = await options.compressed?.damage(file);
  if (damaged !== undefined) return damaged;
  const line = file !== undefined && namesNoLine(error) ? await options.diagnose?.(file) : undefined;
  return condensedReadError(error, options.label, files, line);
}

/** The source's `from` as a table to bind and describe: for parts, over their empty table. */
function bound(options: SourceOptions): string {
  const { from, parts } = options;
  return parts === undefined ? from : from.replaceAll(parts.token, parts.empty);
}

/**
 * A parenthesised query over rows read from `from` (all of the input, or a part of it whose rows start
 * at `firstRow`): at most `limit` of them, then the source's condition; see {@link Source.query}.
 */
function rowsQuery(
  from: string,
  options: SourceOptions,
  rows: { firstRow: number; limit: number | undefined },
  select: string,
  rowIndex: boolean,
): string {
  const { where } = options;
  let table = rows.limit === undefined ? from : `(SELECT * FROM ${from} LIMIT ${rows.limit})`;
  // DuckDB numbers rows with a streaming window: one pass, no materialization.
  if (rowIndex)
    table = `(SELECT *, row_number() OVER () - 1 + ${rows.firstRow} AS __mlbatch_row FROM ${table})`;
  const columns = rowIndex && select !== "*" ? `${select}, __mlbatch_row` : select;
  const filter = where === undefined ? "" : ` WHERE ${where}`;
  return `(SELECT ${columns} FROM ${table}${filter})`;
}
