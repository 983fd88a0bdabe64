/**
 * Input columns the outputs carry unchanged (ids, passthrough), read with the features from the same
 * stream and held per batch until the outputs' rows are written: fixed-width types (numbers, dates,
 * timestamps, decimals, UUIDs, enums) as the bytes of DuckDB's vectors, other types (text, blobs, lists,
 * structs) as the values the vectors give.
 */
import type { DuckDBDataChunk, DuckDBType } from "@duckdb/node-api";
import { chunkBytes, setInvalid, vectorBytes, vectorValidity } from "./vectors.js";

/** One carried column's rows: bytes (with a byte per row of validity once a row is null), or values. */
interface Held {
  width: number;
  bytes: Uint8Array;
  valid: Uint8Array | undefined;
  readonly values: unknown[];
}

/**
 * Rows of the carried columns, up to a batch.
 *
 * @example
 * ```ts
 * const carried = new CarriedRows(types, 16_384);
 * carried.copy(chunk, 14, 0, chunk.rowCount); // the chunk's columns 14.. are the carried ones
 * carried.write(out, 0, 0, 2048, 0);           // into a chunk DuckDB writes
 * ```
 */
export class CarriedRows {
  private rows = 0;
  private readonly held: Held[];

  /**
   * @param types - the carried columns' DuckDB types, in order
   * @param capacity - the most rows it will hold
   */
  constructor(
    readonly types: readonly DuckDBType[],
    private readonly capacity: number,
  ) {
    this.held = types.map(() => ({ width: 0, bytes: new Uint8Array(0), valid: undefined, values: [] }));
  }

  /** How many rows it holds. */
  get length(): number {
    return this.rows;
  }

  /** Appends `count` rows of a chunk, from row `from`, whose carried columns start at column `first`. */
  copy(chunk: DuckDBDataChunk, first: number, from: number, count: number): void {
    const at = this.rows;
    this.held.forEach((held, i) => {
      const read = readBytes(chunk, first + i, this.types[i]!, from + count);
      if (read === undefined) {
        const vector = chunk.getColumnVector(first + i);
        for (let r = 0; r < count; r++) held.values[at + r] = vector.getItem(from + r);
        return;
      }
      const { bytes, validity } = read;
      if (held.width === 0) {
        held.width = read.width;
        held.bytes = new Uint8Array(held.width * this.capacity);
      }
      const { width } = held;
      held.bytes.set(bytes.subarray(width * from, width * (from + count)), width * at);
      if (validity === undefined && held.valid === undefined) return;
      held.valid ??= new Uint8Array(this.capacity).fill(1, 0, at);
      for (let r = 0; r < count; r++) {
        const row = from + r;
        held.valid[at + r] = validity === undefined ? 1 : (validity[row >> 3]! >> (row & 7)) & 1;
      }
    });
    this.rows += count;
  }

  /**
   * Writes its rows `[from, from + count)` into a chunk being written, in its columns from `column` on,
   * at its row `at`; the caller flushes the vectors once every row is in.
   */
  write(out: DuckDBDataChunk, column: number, from: number, count: number, at: number): void {
    this.held.forEach((held, i) => {
      const vector = out.getColumnVector(column + i);
      const bytes = vectorBytes(vector);
      if (bytes === undefined) {
        for (let r = 0; r < count; r++) vector.setItem(at + r, held.values[from + r] as never);
        return;
      }
      const { width, valid } = held;
      bytes.set(held.bytes.subarray(width * from, width * (from + count)), width * at);
      if (valid !== undefined)
        for (let r = 0; r < count; r++) if (valid[from + r] === 0) setInvalid(vector, at + r);
    });
  }
}

/**
 * A carried column's rows `[0, rows)` as bytes: straight from the chunk for the usual fixed-width types
 * (`chunkBytes`), through its vector for the others stored inline (DECIMAL, ENUM), else undefined.
 */
function readBytes(chunk: DuckDBDataChunk, column: number, type: DuckDBType, rows: number) {
  const direct = chunkBytes(chunk, column, type, rows);
  if (direct !== undefined) return direct;
  const vector = chunk.getColumnVector(column);
  const bytes = vectorBytes(vector);
  if (bytes === undefined) return undefined;
  return { bytes, width: bytes.length / chunk.rowCount, validity: vectorValidity(vector) };
}
