/**
 * Batches to and from Arrow IPC streams: the pyfunc workers' transport. Numbers cross as their typed arrays
 * (no copy on the way out), strings as Arrow text, booleans as bitmaps; never JSON, whose round trip costs
 * time and changes types.
 */
import {
  Bool,
  type DataType,
  Field,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  makeData,
  makeVector,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  tableFromIPC,
  Uint8,
  Utf8,
  type Vector,
} from "apache-arrow";
import { allocate, type Batch, type Column, type ColumnType } from "../../data/batch.js";
import type { OutputSpec } from "../model.js";

const ARROW: { readonly [T in ColumnType]: () => DataType } = {
  float32: () => new Float32(),
  float64: () => new Float64(),
  int8: () => new Int8(),
  int16: () => new Int16(),
  int32: () => new Int32(),
  int64: () => new Int64(),
  uint8: () => new Uint8(),
  bool: () => new Bool(),
  string: () => new Utf8(),
};

function vectorOf(column: Column): Vector {
  const { data, type } = column;
  if (Array.isArray(data)) return textVector(data);
  if (type === "bool") {
    const bits = new Uint8Array((data.length + 7) >> 3);
    for (let i = 0; i < data.length; i++) if (data[i] !== 0) bits[i >> 3]! |= 1 << (i & 7);
    return makeVector(makeData({ type: new Bool(), length: data.length, nullCount: 0, data: bits }));
  }
  return makeVector(data as Float64Array);
}

/**
 * A text column as Arrow's Utf8: offsets and UTF-8 bytes written at once (apache-arrow's builder, through
 * vectorFromArray, took 0.7-1.3 s for 100,000 dates; this takes milliseconds). When the column is ASCII
 * (as many bytes as characters), the bytes are its values joined and encoded in one call, and the
 * offsets their lengths; else each value is measured and written in turn.
 */
function textVector(values: readonly string[]): Vector {
  const offsets = new Int32Array(values.length + 1);
  const joined = values.join("");
  let data = Buffer.from(joined, "utf8");
  if (data.length === joined.length) {
    let at = 0;
    for (let i = 0; i < values.length; i++) {
      at += values[i]!.length;
      offsets[i + 1] = at;
    }
  } else {
    let bytes = 0;
    for (let i = 0; i < values.length; i++) {
      bytes += Buffer.byteLength(values[i]!, "utf8");
      offsets[i + 1] = bytes;
    }
    data = Buffer.allocUnsafe(bytes);
    for (let i = 0; i < values.length; i++) data.write(values[i]!, offsets[i]!, "utf8");
  }
  const view = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return makeVector(
    makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets: offsets, data: view }),
  );
}

/**
 * A stream writer that keeps the pieces it writes (views of the columns' arrays, and its own headers and
 * padding) instead of queueing them for a reader, so that they can be copied once into a buffer of the
 * caller's, where `toUint8Array` copies them into a new one.
 */
class PiecesWriter extends RecordBatchStreamWriter {
  readonly pieces: Uint8Array[] = [];
  byteLength = 0;

  protected override _write(chunk: unknown): this {
    if (!ArrayBuffer.isView(chunk))
      throw new Error("the Arrow stream writer wrote something other than bytes");
    if (this._started && chunk.byteLength > 0) {
      this.pieces.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.byteLength += chunk.byteLength;
      this._position += chunk.byteLength;
    }
    return this;
  }
}

/**
 * The columns as one Arrow IPC stream (schema, one record batch, end), copied into a buffer of
 * `allocate`'s (default: a new one): the copy is the only one, and the columns may change once it returns.
 */
export function encodeBatch(
  columns: readonly Column[],
  length: number,
  allocate: (byteLength: number) => Uint8Array = (n) => new Uint8Array(n),
): Uint8Array {
  const vectors = columns.map(vectorOf);
  const fields = columns.map((c, i) => new Field(c.name, vectors[i]!.type, false));
  const schema = new Schema(fields);
  const data = makeData({
    type: new Struct(fields),
    length,
    nullCount: 0,
    children: vectors.map((v) => v.data[0]!),
  });
  const writer = new PiecesWriter();
  writer.writeAll([new RecordBatch(schema, data)]);
  const out = allocate(writer.byteLength);
  let at = 0;
  for (const piece of writer.pieces) {
    out.set(piece, at);
    at += piece.byteLength;
  }
  return out;
}

/**
 * The outputs of an Arrow IPC stream, as typed columns (the worker casts them to the types asked).
 *
 * @throws Error when the stream lacks an output or holds another type (a worker bug: the caller wraps it)
 */
export function decodeOutputs(bytes: Uint8Array, outputs: readonly OutputSpec[]): Batch {
  const table = tableFromIPC(bytes);
  const length = table.numRows;
  const columns = outputs.map((spec): Column => {
    const vector = table.getChild(spec.name);
    if (vector === null) throw new Error(`the worker's answer has no column "${spec.name}"`);
    if (String(vector.type) !== String(ARROW[spec.type]())) {
      throw new Error(`the worker's column "${spec.name}" is ${vector.type}, not ${spec.type}`);
    }
    return { name: spec.name, type: spec.type, data: columnData(vector, spec.type, length) };
  });
  return { length, columns };
}

function columnData(vector: Vector, type: ColumnType, length: number): Column["data"] {
  if (type === "string") {
    // Straight from the offsets and bytes of each chunk (a null is empty text).
    const out = new Array<string>(length);
    let at = 0;
    for (const chunk of vector.data) {
      const offsets = chunk.valueOffsets as Int32Array;
      const bytes = Buffer.from(chunk.values.buffer, chunk.values.byteOffset, chunk.values.byteLength);
      for (let i = 0; i < chunk.length; i++) {
        out[at++] = chunk.getValid(i) ? bytes.toString("utf8", offsets[i]!, offsets[i + 1]!) : "";
      }
    }
    return out;
  }
  if (type === "bool") {
    const out = allocate("uint8", length) as Uint8Array;
    for (let i = 0; i < length; i++) out[i] = vector.get(i) === true ? 1 : 0;
    return out;
  }
  // One chunk: a view of the stream's buffer, which nothing else holds.
  return vector.toArray() as Column["data"];
}
