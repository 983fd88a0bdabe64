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
import { type Batch, type ColumnType, DUCKDB_TYPE } from "./batch.js";
import type { OutputSpec } from "./columns.js";
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
 * const table = await PredictionTable.create(db, "predictions", model.outputs);
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

  /** Creates the table with one column per model output. */
  static async create(db: Database, name: string, outputs: readonly OutputSpec[]): Promise<PredictionTable> {
    const sqlName = quotedIdentifier(name);
    const columns = outputs.map((o) => `${quotedIdentifier(o.name)} ${DUCKDB_TYPE[o.type]}`).join(", ");
    await db.run(`CREATE TABLE ${sqlName} (${columns})`);
    // Its own connection: the appender flushes while the job's connection streams the inputs.
    const connection = await db.connect();
    return new PredictionTable(sqlName, outputs, await connection.createAppender(name));
  }

  /** How many rows were appended. */
  get rowCount(): number {
    return this.rows;
  }

  /** Appends a batch whose columns are the outputs, in order. */
  append(batch: Batch): void {
    const chunk = this.chunk;
    for (let from = 0; from < batch.length; from += CHUNK_ROWS) {
      const count = Math.min(CHUNK_ROWS, batch.length - from);
      chunk.reset();
      chunk.rowCount = count;
      batch.columns.forEach((column, i) => {
        copyToVector(chunk.getColumnVector(i), column.type, column.data, from, count);
      });
      this.appender.appendDataChunk(chunk);
    }
    this.rows += batch.length;
  }

  /** Flushes and closes the appender: the table is then complete. */
  close(): void {
    this.appender.flushSync();
    this.appender.closeSync();
  }
}
