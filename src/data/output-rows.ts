/**
 * The outputs' rows, written as the predictions come. Each batch's predictions are paired with the rows
 * of the columns the outputs carry (ids, passthrough), read with the batch's features (see
 * {@link CarriedRows}); every `segmentRows` rows are handed to the writer's sink as one query over a
 * table function that serves them from memory, and written by DuckDB while the next batches are
 * predicted. No DuckDB table holds them (appending there cost the main thread twice as much, measured),
 * and nothing holds more than two segments: memory does not grow with the inputs.
 */
import type { DuckDBDataChunk, DuckDBTableFunction, DuckDBType } from "@duckdb/node-api";
import { messageOf } from "../errors.js";
import { duckdb } from "../packages.js";
import type { Batch, ColumnType } from "./batch.js";
import type { CarriedRows } from "./carried.js";
import type { Database } from "./database.js";
import type { Source } from "./source.js";
import { identifierList, quotedIdentifier, quotedString } from "./sql.js";
import { copyToVector } from "./vectors.js";
import type { RowSink } from "./writers/writer.js";

/** DuckDB's row group size: a segment is one row group of the output. */
const SEGMENT_ROWS = 122_880;
/** DuckDB's vector size: the most rows a table function gives at once. */
const CHUNK_ROWS = 2048;

const { BIGINT, BOOLEAN, DOUBLE, FLOAT, INTEGER, SMALLINT, TINYINT, UTINYINT, VARCHAR } = duckdb;

const TYPES: Readonly<Record<ColumnType, DuckDBType>> = {
  float32: FLOAT,
  float64: DOUBLE,
  int8: TINYINT,
  int16: SMALLINT,
  int32: INTEGER,
  int64: BIGINT,
  uint8: UTINYINT,
  bool: BOOLEAN,
  string: VARCHAR,
};

/** What {@link OutputRows} writes. */
export interface OutputRowsOptions {
  /** The rows predicted (their carried columns are read with the features: this gives their types). */
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

/** Rows `[from, from + count)` of one batch: its predictions and its carried rows. */
interface Piece {
  readonly predictions: Batch;
  readonly carried: CarriedRows | undefined;
  readonly from: number;
  readonly count: number;
}

/** Where a table function's scan of a segment is. */
interface Scan {
  readonly pieces: readonly Piece[];
  piece: number;
  offset: number;
}

let functions = 0;

/**
 * Writes the outputs' rows to a sink as predictions come (see the module's comment).
 *
 * @example
 * ```ts
 * const rows = await OutputRows.create(db, { source, carried: ["instant"], outputs: model.outputs, sink });
 * for (const predicted of batches) rows.append(predicted, carriedRowsOf(predicted));
 * await rows.finish(); // the rows written
 * ```
 */
export class OutputRows {
  /** The segment being filled. */
  private pieces: Piece[] = [];
  private filled = 0;
  private segments = 0;
  private predicted = 0;
  private written = 0;
  /** Segments handed to the sink, by index, until their query has read them. */
  private readonly handed = new Map<number, readonly Piece[]>();
  /** The sink's write of the last full segment, awaited before the next one. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: OutputRowsOptions,
    /** The table function serving segments, by index: `<name>(<segment>)`. */
    private readonly name: string,
    private readonly columns: readonly { readonly name: string; readonly type: DuckDBType }[],
  ) {}

  /**
   * Registers the table function that serves the segments on `db` (the sink writes on another of its
   * connections).
   */
  static async create(db: Database, options: OutputRowsOptions): Promise<OutputRows> {
    const { source, carried, outputs } = options;
    const types =
      carried.length === 0
        ? []
        : (
            await db.connection.run(`SELECT * FROM ${source.emptyQuery(identifierList(carried))}`)
          ).columnTypes();
    const columns = [
      ...carried.map((name, i) => ({ name, type: types[i]! })),
      ...outputs.map((o) => ({ name: o.name, type: TYPES[o.type] })),
    ];
    const rows = new OutputRows(options, `__mlbatch_rows_${process.pid}_${functions++}`, columns);
    db.connection.registerTableFunction(rows.tableFunction());
    return rows;
  }

  /** Rows predicted so far. */
  get rowCount(): number {
    return this.predicted;
  }

  /**
   * Adds the next rows' predictions (a batch of the model's outputs, in input order) and, when the outputs
   * carry columns, those rows of them. A segment filled is handed to the sink once the previous one is
   * written.
   */
  async append(predictions: Batch, carried: CarriedRows | undefined): Promise<void> {
    const size = this.options.segmentRows ?? SEGMENT_ROWS;
    for (let from = 0; from < predictions.length; ) {
      const count = Math.min(size - this.filled, predictions.length - from);
      this.pieces.push({ predictions, carried, from, count });
      this.filled += count;
      from += count;
      if (this.filled === size) await this.flush();
    }
    this.predicted += predictions.length;
  }

  /**
   * Writes the last segment (an empty one when there were no rows: the outputs keep their columns) and
   * waits for every write.
   *
   * @returns the rows written
   */
  async finish(): Promise<number> {
    if (this.filled > 0 || this.segments === 0) await this.flush();
    await this.writing;
    return this.written;
  }

  /** Waits for the write in flight, if any (its failure is the job's, reported by whoever awaits it). */
  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
  }

  /** Hands the segment filled to the sink, once the write of the one before is done. */
  private async flush(): Promise<void> {
    const index = this.segments++;
    this.handed.set(index, this.pieces);
    this.pieces = [];
    this.filled = 0;
    await this.writing;
    const { constant, sink } = this.options;
    const rows = `(SELECT * FROM ${quotedIdentifier(this.name)}(${index}))`;
    const query =
      constant === undefined
        ? rows
        : `(SELECT *, ${quotedString(constant.value)} AS ${quotedIdentifier(constant.name)} FROM ${rows})`;
    this.writing = sink.append(query).then(
      (written) => {
        this.written += written;
        this.handed.delete(index);
      },
      (error: unknown) => {
        this.handed.delete(index);
        throw error;
      },
    );
    // Awaited by the next flush or by finish; until then its failure must not go unhandled.
    this.writing.catch(() => undefined);
  }

  /** The table function `<name>(segment)`: the segment's rows, carried columns then predictions. */
  private tableFunction(): DuckDBTableFunction {
    return duckdb.DuckDBTableFunction.create({
      name: this.name,
      parameterTypes: [INTEGER],
      bindFunction: (info) => {
        for (const column of this.columns) info.addResultColumn(column.name, column.type);
        info.setBindData({ segment: Number(info.getParameter(0)) });
      },
      initFunction: (info) => {
        // One thread reads a segment, in order.
        info.setMaxThreads(1);
        const { segment } = info.bindData as { segment: number };
        info.setInitData({ pieces: this.handed.get(segment) ?? [], piece: 0, offset: 0 } satisfies Scan);
      },
      mainFunction: (info, out) => {
        try {
          this.serve(info.initData as Scan, out);
        } catch (error) {
          info.setError(messageOf(error));
        }
      },
    });
  }

  /** Fills `out` with the segment's next rows (none at its end). */
  private serve(scan: Scan, out: DuckDBDataChunk): void {
    const carried = this.options.carried.length;
    let at = 0;
    const parts: { piece: Piece; from: number; count: number; at: number }[] = [];
    while (at < CHUNK_ROWS && scan.piece < scan.pieces.length) {
      const piece = scan.pieces[scan.piece]!;
      const count = Math.min(CHUNK_ROWS - at, piece.count - scan.offset);
      parts.push({ piece, from: piece.from + scan.offset, count, at });
      at += count;
      scan.offset += count;
      if (scan.offset === piece.count) {
        scan.piece++;
        scan.offset = 0;
      }
    }
    out.rowCount = at;
    if (at === 0) return;
    for (const { piece, from, count, at: to } of parts) {
      piece.carried?.write(out, 0, from, count, to);
      piece.predictions.columns.forEach((column, i) => {
        copyToVector(out.getColumnVector(carried + i), column.type, column.data, from, count, to);
      });
    }
    for (let c = 0; c < out.columnCount; c++) out.getColumnVector(c).flush();
  }
}
