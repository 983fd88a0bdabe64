/**
 * Copies between DuckDB vectors and batch columns, and a vector's raw bytes and validity. DuckDB's vector
 * classes keep their typed array (or data view) and validity in fields the type declarations mark
 * private; they are read here and nowhere else, as are DuckDB's bindings, called directly for the
 * fixed-width columns of a chunk (see {@link chunkBytes}).
 */
import type { DuckDBDataChunk, DuckDBType, DuckDBTypeId, DuckDBVector } from "@duckdb/node-api";
import { duckdbBindings as bindings, duckdb } from "../packages.js";

const TypeId = duckdb.DuckDBTypeId;

import type { ColumnData, ColumnType } from "./batch.js";

interface VectorInternals {
  readonly items?: ArrayLike<number | bigint> & { readonly length: number };
  getItem(index: number): unknown;
  setItem(index: number, value: unknown): void;
  flush(): void;
}

function internals(vector: DuckDBVector): VectorInternals {
  return vector as unknown as VectorInternals;
}

/** Copies `count` values of a chunk's vector, from `from`, into `target` at `offset`. */
export function copyFromVector(
  vector: DuckDBVector,
  type: ColumnType,
  from: number,
  count: number,
  target: ColumnData,
  offset: number,
): void {
  const v = internals(vector);
  if (Array.isArray(target)) {
    if (vector.type.typeId === TypeId.VARCHAR && copyText(vector, from, count, target, offset)) return;
    for (let i = 0; i < count; i++) target[offset + i] = String(v.getItem(from + i) ?? "");
    return;
  }
  if (type === "bool") {
    for (let i = 0; i < count; i++) target[offset + i] = v.getItem(from + i) ? 1 : 0;
    return;
  }
  const items = v.items as typeof target | undefined;
  if (items === undefined) throw new Error(`DuckDB vector of ${type} exposes no typed array`);
  // Same element type on both sides (the SQL casts to it), so `set` is a memcpy.
  (target as Float64Array).set((items as Float64Array).subarray(from, from + count), offset);
}

/**
 * Bytes per value of the types a chunk's column is read as bytes in (values inline, at one width;
 * DECIMAL's and ENUM's widths depend on the type's parameters: their vectors read them).
 */
const WIDTH: ReadonlyMap<DuckDBTypeId, number> = new Map([
  [TypeId.TINYINT, 1],
  [TypeId.SMALLINT, 2],
  [TypeId.INTEGER, 4],
  [TypeId.BIGINT, 8],
  [TypeId.UTINYINT, 1],
  [TypeId.USMALLINT, 2],
  [TypeId.UINTEGER, 4],
  [TypeId.UBIGINT, 8],
  [TypeId.HUGEINT, 16],
  [TypeId.UHUGEINT, 16],
  [TypeId.FLOAT, 4],
  [TypeId.DOUBLE, 8],
  [TypeId.DATE, 4],
  [TypeId.TIME, 8],
  [TypeId.TIME_NS, 8],
  [TypeId.TIME_TZ, 8],
  [TypeId.TIMESTAMP, 8],
  [TypeId.TIMESTAMP_S, 8],
  [TypeId.TIMESTAMP_MS, 8],
  [TypeId.TIMESTAMP_NS, 8],
  [TypeId.TIMESTAMP_TZ, 8],
  [TypeId.INTERVAL, 16],
  [TypeId.UUID, 16],
]);

/**
 * The bytes of a chunk's column of a fixed-width type, rows `[0, rows)`, and its validity (bit `r`: row
 * `r` is valid; undefined when all are), read straight from the chunk; undefined for other types (their
 * vector classes read them). node-api's `getColumnVector` also makes a logical type per vector, with a
 * finalizer to run: the bench's 15 columns of 1M rows cost 0.14 s of the main thread's CPU that way,
 * 0.06 s this way (docs/benchmarks.md).
 *
 * @param type - the column's type, as the stream gives it
 */
export function chunkBytes(
  chunk: DuckDBDataChunk,
  column: number,
  type: DuckDBType,
  rows: number,
):
  | { readonly bytes: Uint8Array; readonly width: number; readonly validity: Uint8Array | undefined }
  | undefined {
  const width = WIDTH.get(type.typeId);
  if (width === undefined) return undefined;
  const vector = bindings.data_chunk_get_vector(chunk.chunk, column);
  const bytes = bindings.vector_get_data(vector, rows * width);
  const validity = bindings.vector_get_validity(vector, Math.ceil(rows / 64) * 8) ?? undefined;
  return { bytes, width, validity };
}

/**
 * Copies `count` values of a chunk's column, from row `from`, into `target` at `offset`: as bytes when the
 * column holds the target's own type (the SQL casts to it) at a fixed width, else through its vector
 * ({@link copyFromVector}).
 *
 * @param type - the column's type, as the stream gives it
 */
export function copyFromChunk(
  chunk: DuckDBDataChunk,
  column: number,
  type: DuckDBType,
  as: ColumnType,
  from: number,
  count: number,
  target: ColumnData,
  offset: number,
): void {
  const width = WIDTH.get(type.typeId);
  if (Array.isArray(target) || as === "bool" || type.typeId !== FEED_TYPE_ID[as] || width === undefined) {
    copyFromVector(chunk.getColumnVector(column), as, from, count, target, offset);
    return;
  }
  // Missing values are not looked at (no validity read), as for a vector's typed array: the SQL gave
  // floats NaN instead, and validation refused them (or filtered their rows out) for the other types.
  const bytes = bindings.vector_get_data(
    bindings.data_chunk_get_vector(chunk.chunk, column),
    (from + count) * width,
  );
  const into = target as Exclude<ColumnData, string[]>;
  new Uint8Array(into.buffer, into.byteOffset + offset * width, count * width).set(
    bytes.subarray(from * width),
  );
}

/** The DuckDB type a feed column of each type is cast to (`DUCKDB_TYPE`), by id. */
const FEED_TYPE_ID: Readonly<Record<ColumnType, DuckDBTypeId>> = {
  float32: TypeId.FLOAT,
  float64: TypeId.DOUBLE,
  int8: TypeId.TINYINT,
  int16: TypeId.SMALLINT,
  int32: TypeId.INTEGER,
  int64: TypeId.BIGINT,
  uint8: TypeId.UTINYINT,
  bool: TypeId.BOOLEAN,
  string: TypeId.VARCHAR,
};

/**
 * Copies text from a VARCHAR vector, reading DuckDB's 16-byte string entries: a length, then the text
 * itself when it is at most 12 bytes long (dates, codes, categories), else a pointer, which DuckDB's own
 * accessor follows (as it does text led by a byte-order mark, which its decoder drops). A value is decoded
 * once for a run of equal entries: a column sorted or grouped by a text (a date, a category) repeats it row
 * after row, and the string is then shared, not made again (1M rows of the bikes dates: 0.21 s → 0.05 s).
 * Missing values are empty text, as the generic path makes them.
 *
 * @returns false, having copied nothing, when the vector's entries cannot be read (the generic path then)
 */
function copyText(
  vector: DuckDBVector,
  from: number,
  count: number,
  target: string[],
  offset: number,
): boolean {
  const v = internals(vector);
  const view = (v as VectorInternals & { readonly dataView?: DataView }).dataView;
  if (view === undefined) return false;
  const bytes = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  const valid = vectorValidity(vector);
  // The previous inline entry, as four words, and its text.
  let w0 = -1;
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;
  let text = "";
  for (let i = 0; i < count; i++) {
    const row = from + i;
    if (valid !== undefined && (valid[row >> 3]! & (1 << (row & 7))) === 0) {
      target[offset + i] = "";
      continue;
    }
    const at = row * 16;
    const length = view.getUint32(at, true);
    const a = view.getUint32(at + 4, true);
    // Longer text, and text that starts as a byte-order mark does (which DuckDB's decoder drops): its accessor.
    if (length > 12 || (a & 0xff) === 0xef) {
      target[offset + i] = String(v.getItem(row) ?? "");
      continue;
    }
    const b = view.getUint32(at + 8, true);
    const c = view.getUint32(at + 12, true);
    if (length !== w0 || a !== w1 || b !== w2 || c !== w3) {
      text = bytes.toString("utf8", at + 4, at + 4 + length);
      w0 = length;
      w1 = a;
      w2 = b;
      w3 = c;
    }
    target[offset + i] = text;
  }
  return true;
}

/**
 * Copies `count` values of `source` from `from` into a chunk vector being written, at its row `at`; the
 * caller flushes the vector once every value is in.
 */
export function copyToVector(
  vector: DuckDBVector,
  type: ColumnType,
  source: ColumnData,
  from: number,
  count: number,
  at: number,
): void {
  const v = internals(vector);
  if (Array.isArray(source) || type === "bool") {
    for (let i = 0; i < count; i++) {
      const value = source[from + i];
      v.setItem(at + i, type === "bool" ? value !== 0 : value);
    }
  } else {
    const items = v.items as Float64Array | undefined;
    if (items === undefined) throw new Error(`DuckDB vector of ${type} exposes no typed array`);
    items.set((source as Float64Array).subarray(from, from + count), at);
  }
}

/** Types whose vectors hold their values inline, at a fixed width: copied as bytes. */
const FIXED_WIDTH: ReadonlySet<DuckDBTypeId> = new Set([
  ...WIDTH.keys(),
  // Inline too, at a width their parameters (or the platform's bool) set.
  TypeId.BOOLEAN,
  TypeId.DECIMAL,
  TypeId.ENUM,
]);

/**
 * The bytes of a fixed-width vector's values (a view of the copy DuckDB's vector class holds, written
 * back by `flush()`), or undefined for types stored elsewhere (text, blobs, lists, structs).
 */
export function vectorBytes(vector: DuckDBVector): Uint8Array | undefined {
  if (!FIXED_WIDTH.has(vector.type.typeId)) return undefined;
  const v = internals(vector) as VectorInternals & { readonly dataView?: DataView };
  const view = (v.items as ArrayBufferView | undefined) ?? v.dataView;
  return view === undefined ? undefined : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A vector's validity as bytes (bit `r` of the mask: row `r` is valid), or undefined when all are valid. */
export function vectorValidity(vector: DuckDBVector): Uint8Array | undefined {
  const data = (
    internals(vector) as unknown as { readonly validity: { readonly data: BigUint64Array | null } }
  ).validity.data;
  return data === null ? undefined : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Marks row `row` of a vector being written as missing (written by `flush()`). */
export function setInvalid(vector: DuckDBVector, row: number): void {
  (
    internals(vector) as unknown as { readonly validity: { setItemValid(i: number, valid: boolean): void } }
  ).validity.setItemValid(row, false);
}
