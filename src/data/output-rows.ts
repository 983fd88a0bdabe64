/**
 * The outputs' rows, written as the predictions come. Each batch of predictions is paired row by row
 * with the input columns the outputs carry (ids, passthrough), streamed from the same rows of the source
 * on a connection of their own; every `segmentRows` rows, both sides go to DuckDB tables and, as one
 * query, to the writer's sink, which writes them while the next batches are predicted. Nothing holds
 * more than two segments: memory does not grow with the inputs.
 */
import type { DuckDBAppender, DuckDBDataChunk } from "@duckdb/node-api";
import { MlbatchError } from "../errors.js";
import type { Batch, ColumnType } from "./batch.js";
import type { Database } from "./database.js";
import { PredictionTable } from "./predictions.js";
import type { Source } from "./source.js";
import { identifierList, quotedIdentifier, quotedString } from "./sql.js";
import type { RowSink } from "./writers/writer.js";

/** DuckDB's row group size: a segment is one row group of the output. */
const SEGMENT_ROWS = 122_880;

/** What {@link OutputRows} writes. */
export interface OutputRowsOptions {
  /** The rows predicted, as the model's stream reads them (the same filter, the same order). */
  readonly source: Source;
  /** Input columns copied first into the outputs (ids, then passthrough). */
  readonly carried: readonly string[];
  /** The model's outputs, in order. */
  readonly outputs: readonly { readonly name: string; readonly type: ColumnType }[];
  /** A column added last with the same value in every row (the model version). */
  readonly constant?: { readonly name: string; readonly value: string } | undefined;
  readonly sink: RowSink;
  /** Rows per query handed to the sink (default: DuckDB's row group, 122,880). */
  readonly segmentRows?: number | undefined;
}

/** One segment being filled: its carried rows (decided first) and its predictions. */
interface Segment {
  readonly predictions: PredictionTable;
  readonly carried: { readonly table: string; readonly appender: DuckDBAppender } | undefined;
  /** Rows the segment takes: the carried rows, or `segmentRows` without carried columns. */
  size: number;
  /** The carried side has all its rows. */
  sealed: boolean;
}

/**
 * Writes the outputs' rows to a sink as predictions come (see the module's comment).
 *
 * @example
 * ```ts
 * const rows = await OutputRows.create(db, { source, carried: ["instant"], outputs: model.outputs, sink });
 * for (const predicted of batches) await rows.append(predicted);
 * await rows.finish(); // the rows written
 * ```
 */
export class OutputRows {
  private segment: Segment | undefined;
  private segments = 0;
  private written = 0;
  private predicted = 0;
  /** The sink's write of the last full segment, awaited before the next one. */
  private writing: Promise<void> = Promise.resolve();
  private readonly chunks: AsyncGenerator<DuckDBDataChunk> | undefined;
  private pending: DuckDBDataChunk | undefined;
  private exhausted = false;

  private constructor(
    /** Where the segments' tables are made and filled: a connection of their own (appenders on it). */
    private readonly tables: Database,
    /** Where written tables are dropped, while the next ones fill. */
    private readonly drops: Database,
    /** Where the carried columns are streamed from, when there are some. */
    private readonly carry: Database | undefined,
    private readonly options: OutputRowsOptions,
  ) {
    const { carried, source } = options;
    this.chunks = carry === undefined ? undefined : source.on(carry).chunks(carried);
  }

  /**
   * Opens the connections the segments need (the inputs stream on `db`'s own); `close()` releases them.
   * The sink must write on yet another connection.
   */
  static async create(db: Database, options: OutputRowsOptions): Promise<OutputRows> {
    const carry = options.carried.length === 0 ? undefined : await db.fork();
    return new OutputRows(await db.fork(), await db.fork(), carry, options);
  }

  /** Rows predicted so far. */
  get rowCount(): number {
    return this.predicted;
  }

  /** Adds the next rows' predictions (a batch of the model's outputs, in input order). */
  async append(batch: Batch): Promise<void> {
    let from = 0;
    while (from < batch.length) {
      const segment = this.segment ?? (await this.open());
      const room = await this.room(segment);
      const count = Math.min(room, batch.length - from);
      segment.predictions.append(batch, from, count);
      from += count;
      this.predicted += count;
      if (segment.sealed && segment.predictions.rowCount === segment.size) await this.flush(segment);
    }
  }

  /**
   * Writes the last segment (an empty one when there were no rows: the outputs keep their columns) and
   * waits for every write.
   *
   * @returns the rows written
   * @throws MlbatchError `E_INTERNAL` when the carried columns have more or fewer rows than were predicted
   */
  async finish(): Promise<number> {
    const segment = this.segment ?? (this.segments === 0 ? await this.open() : undefined);
    if (segment !== undefined) {
      if (segment.carried === undefined) segment.size = segment.predictions.rowCount;
      else await this.fill(segment, Number.POSITIVE_INFINITY);
      if (segment.predictions.rowCount !== segment.size) throw this.mismatch();
      await this.flush(segment);
    }
    if (await this.more()) throw this.mismatch();
    await this.writing;
    return this.written;
  }

  /** Releases the connections (after finish, or to abandon the rows: nothing more is written). */
  close(): void {
    for (const db of [this.carry, this.tables, this.drops]) db?.close();
  }

  private mismatch(): MlbatchError {
    return new MlbatchError(
      "E_INTERNAL",
      `row counts do not reconcile: ${this.predicted} rows predicted, and the inputs' id and passthrough ` +
        "columns have more or fewer rows",
    );
  }

  /** How many more predictions the segment takes, reading carried rows as far as needed. */
  private async room(segment: Segment): Promise<number> {
    if (segment.carried !== undefined && !segment.sealed) await this.fill(segment, this.segmentRows);
    const room = segment.size - segment.predictions.rowCount;
    if (room > 0) return room;
    throw this.mismatch();
  }

  /** Appends carried chunks to the segment until it has `rows` of them or the stream ends. */
  private async fill(segment: Segment, rows: number): Promise<void> {
    const carried = segment.carried;
    if (carried === undefined) return;
    while (segment.size < rows) {
      const chunk = await this.next();
      if (chunk === undefined) break;
      carried.appender.appendDataChunk(chunk);
      segment.size += chunk.rowCount;
    }
    segment.sealed = true;
  }

  private async next(): Promise<DuckDBDataChunk | undefined> {
    if (this.pending !== undefined) {
      const chunk = this.pending;
      this.pending = undefined;
      return chunk;
    }
    if (this.exhausted || this.chunks === undefined) return undefined;
    const { done, value } = await this.chunks.next();
    if (done) this.exhausted = true;
    return done ? undefined : value;
  }

  /** True when the carried stream has rows left (it must not, once every prediction is in). */
  private async more(): Promise<boolean> {
    this.pending = await this.next();
    return this.pending !== undefined;
  }

  private get segmentRows(): number {
    return this.options.segmentRows ?? SEGMENT_ROWS;
  }

  /** Starts the next segment: its prediction table, and its carried table when the outputs carry columns. */
  private async open(): Promise<Segment> {
    const name = `__mlbatch_segment_${this.segments++}`;
    const predictions = await PredictionTable.create(
      this.tables,
      `${name}_predictions`,
      this.options.outputs,
    );
    let carried: Segment["carried"];
    const { source } = this.options;
    if (this.options.carried.length > 0) {
      const table = quotedIdentifier(`${name}_carried`);
      const columns = identifierList(this.options.carried);
      await this.tables.run(`CREATE TABLE ${table} AS SELECT ${columns} FROM ${source.query()} LIMIT 0`);
      carried = { table, appender: await this.tables.connection.createAppender(`${name}_carried`) };
    }
    const size = carried === undefined ? this.segmentRows : 0;
    this.segment = { predictions, carried, size, sealed: carried === undefined };
    return this.segment;
  }

  /**
   * Hands a complete segment to the sink, once the write of the one before is done; its tables are
   * dropped once written. The write runs while the next segment fills.
   */
  private async flush(segment: Segment): Promise<void> {
    this.segment = undefined;
    segment.predictions.close();
    if (segment.carried !== undefined) {
      segment.carried.appender.flushSync();
      segment.carried.appender.closeSync();
    }
    await this.writing;
    const { constant } = this.options;
    const joined =
      segment.carried === undefined
        ? `(SELECT * FROM ${segment.predictions.sqlName})`
        : `(SELECT * FROM ${segment.carried.table} POSITIONAL JOIN ${segment.predictions.sqlName})`;
    const query =
      constant === undefined
        ? joined
        : `(SELECT *, ${quotedString(constant.value)} AS ${quotedIdentifier(constant.name)} FROM ${joined})`;
    const tables = [
      segment.predictions.sqlName,
      ...(segment.carried === undefined ? [] : [segment.carried.table]),
    ];
    const write = async () => {
      this.written += await this.options.sink.append(query);
      await this.drops.run(tables.map((table) => `DROP TABLE ${table}`).join("; "));
    };
    this.writing = write();
    // Awaited by the next flush or by finish; until then its failure must not go unhandled.
    this.writing.catch(() => undefined);
  }
}
