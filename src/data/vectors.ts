/**
 * Copies between DuckDB vectors and batch columns. DuckDB's vector classes keep their typed array in a
 * field the type declarations mark private; it is read here and nowhere else.
 */
import type { DuckDBVector } from "@duckdb/node-api";
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

/** Copies `count` values of `source` from `from` into a fresh chunk vector (rows 0..count-1) and flushes it. */
export function copyToVector(
  vector: DuckDBVector,
  type: ColumnType,
  source: ColumnData,
  from: number,
  count: number,
): void {
  const v = internals(vector);
  if (Array.isArray(source) || type === "bool") {
    for (let i = 0; i < count; i++) {
      const value = source[from + i];
      v.setItem(i, type === "bool" ? value !== 0 : value);
    }
  } else {
    const items = v.items as Float64Array | undefined;
    if (items === undefined) throw new Error(`DuckDB vector of ${type} exposes no typed array`);
    items.set((source as Float64Array).subarray(from, from + count), 0);
  }
  v.flush();
}
