import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBAppender,
  DuckDBDataChunk,
  type DuckDBType,
  FLOAT,
  INTEGER,
  SMALLINT,
  TINYINT,
  UTINYINT,
  VARCHAR,
} from "@duckdb/node-api";
import type { OutputSpec } from "../models/model.js";
import { type Batch, type ColumnType, DUCKDB_TYPE } from "./batch.js";
import type { Database } from "./database.js";
import { quotedIdentifier } from "./sql.js";
import { copyToVector } from "./vectors.js";

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

/** DuckDB's vector size: the most rows one data chunk holds. */
const CHUNK_ROWS = 2048;

/**
 * A DuckDB table that collects prediction batches in arrival order, through an appender fed whole
 * vectors (typed-array copies, no per-row JS values for numeric columns).
 *
 * @example
 * ```ts
 * const table = await PredictionTable.create(await db.fork(), "predictions", model.outputs);
 * await table.append(await model.predict(batch));
 * table.close();
 * ```
 */
export class PredictionTable {
  private rows = 0;
  // One chunk, refilled for every slice: a new chunk per slice would leave thousands of native chunks
  // (4,900 per 10M rows) for the garbage collector, which does not see their memory.
  private readonly chunk: DuckDBDataChunk;

  private constructor(
    /** The quoted table name, for SQL. */
    readonly sqlName: string,
    outputs: readonly OutputSpec[],
    private readonly appender: DuckDBAppender,
  ) {
    this.chunk = DuckDBDataChunk.create(outputs.map((o) => TYPES[o.type]));
  }

  /**
   * Creates the table with one column per model output, and its appender on `db`'s connection: not the
   * one that streams the inputs (an appender flushing there would end the stream), so a fork.
   */
  static async create(db: Database, name: string, outputs: readonly OutputSpec[]): Promise<PredictionTable> {
    const sqlName = quotedIdentifier(name);
    const columns = outputs.map((o) => `${quotedIdentifier(o.name)} ${DUCKDB_TYPE[o.type]}`).join(", ");
    await db.run(`CREATE TABLE ${sqlName} (${columns})`);
    return new PredictionTable(sqlName, outputs, await db.connection.createAppender(name));
  }

  /** How many rows were appended. */
  get rowCount(): number {
    return this.rows;
  }

  /**
   * Appends `count` rows of a batch whose columns are the outputs, in order, from row `start`.
   *
   * @param start - the first row of the batch to append (default 0)
   * @param count - how many (default: the rest of the batch)
   */
  append(batch: Batch, start = 0, count = batch.length - start): void {
    const chunk = this.chunk;
    for (let from = start; from < start + count; from += CHUNK_ROWS) {
      const rows = Math.min(CHUNK_ROWS, start + count - from);
      chunk.reset();
      chunk.rowCount = rows;
      batch.columns.forEach((column, i) => {
        copyToVector(chunk.getColumnVector(i), column.type, column.data, from, rows);
      });
      this.appender.appendDataChunk(chunk);
    }
    this.rows += count;
  }

  /** Flushes and closes the appender: the table is then complete. */
  close(): void {
    this.appender.flushSync();
    this.appender.closeSync();
  }
}
