/**
 * A node's `AttributeProto`, decoded on demand. Repeated values (a forest's 2 million node ids, packed
 * or, as skl2onnx writes them, one field per value) come out as typed arrays, decoded by tight loops over
 * pieces of the attribute: never one object per value, never a callback per field.
 */
import { forEachField, readVarint } from "./protobuf.js";
import {
  type Cursor,
  countValues,
  FLOATS,
  INTS,
  readCodes,
  readFloats,
  readInts,
  STRINGS,
} from "./repeated.js";
import { type ByteRange, MemoryRange, type PieceDecoder } from "./source.js";

const INT = 3;
const STRING = 4;
const TENSOR = 5;
const decoder = new TextDecoder();

/** A one-dimensional tensor attribute's element type (`TensorProto.DataType`) and values. */
export interface TensorAttribute {
  readonly dataType: number;
  readonly values: Float32Array | Float64Array | Int32Array;
}

/** A node attribute, decoded lazily: repeated values come out as typed arrays, never one object per value. */
export class Attribute {
  private constructor(
    readonly name: string,
    private readonly range: ByteRange,
  ) {}

  /** Reads an `AttributeProto`'s name from its bytes; the type and values are decoded on demand. */
  static parse(bytes: Uint8Array): Attribute {
    return new Attribute(nameOf(bytes), new MemoryRange(bytes));
  }

  /** An attribute whose bytes stay where they are (e.g. in the model file), read when decoded. */
  static lazy(name: string, range: ByteRange): Attribute {
    return new Attribute(name, range);
  }

  /** The size of the encoded `AttributeProto` in bytes. */
  get byteLength(): number {
    return this.range.length;
  }

  /** The encoded `AttributeProto` (read from the file when it is there). */
  get bytes(): Uint8Array {
    return this.range.bytes();
  }

  /** The `i` value. */
  get int(): number {
    let out = 0;
    forEachField(this.range.bytes(), (number, wire, _s, _e, value) => {
      if (number === INT && wire === 0) out = value;
    });
    return out;
  }

  /** The `s` value as text. */
  get string(): string {
    let out = "";
    const bytes = this.range.bytes();
    forEachField(bytes, (number, wire, start, end) => {
      if (number === STRING && wire === 2) out = decoder.decode(bytes.subarray(start, end));
    });
    return out;
  }

  /**
   * The `floats` values.
   *
   * @param expected - how many there are, when known (e.g. the node count): saves a counting pass
   */
  floats(expected?: number): Float32Array {
    return this.decoded(FLOATS, (n) => new Float32Array(n), readFloats, expected);
  }

  /**
   * The `ints` values as 32-bit integers (node, tree, feature and class ids: half the memory).
   *
   * @param expected - how many there are, when known: saves a counting pass
   * @throws RangeError when a value does not fit
   */
  int32s(expected?: number): Int32Array {
    return this.decoded(
      INTS,
      (n) => new Int32Array(n),
      (out, c) => readInts(out, c, this.name),
      expected,
    );
  }

  /** The `ints` values, exactly (int64 class labels). */
  bigints(): BigInt64Array {
    return this.decoded(
      INTS,
      (n) => new BigInt64Array(n),
      (out, c) => readInts(out, c, this.name),
    );
  }

  /**
   * The `strings` values, mapped to their index in `table` (-1 when absent): no string per value.
   *
   * @param expected - how many there are, when known: saves a counting pass
   */
  codes(table: readonly string[], expected?: number): Int8Array {
    const encoded = table.map((s) => new TextEncoder().encode(s));
    return this.decoded(
      STRINGS,
      (n) => new Int8Array(n),
      (out, c) => readCodes(encoded, out, c),
      expected,
    );
  }

  /** The `strings` values as text. */
  strings(): string[] {
    const out: string[] = [];
    const bytes = this.range.bytes();
    forEachField(bytes, (number, wire, start, end) => {
      if (number === STRINGS && wire === 2) out.push(decoder.decode(bytes.subarray(start, end)));
    });
    return out;
  }

  /**
   * The `t` value, a one-dimensional tensor: its element type (`TensorProto.DataType`) and its values
   * (from `raw_data`, `float_data`, `int32_data` or `double_data`, whichever it has).
   */
  tensor(): TensorAttribute {
    let found: TensorAttribute = { dataType: 0, values: new Float32Array(0) };
    const bytes = this.range.bytes();
    forEachField(bytes, (number, wire, start, end) => {
      if (number === TENSOR && wire === 2) found = decodeTensor(bytes.subarray(start, end));
    });
    return found;
  }

  /**
   * The values of repeated field `number`, decoded into an array of `expected` values when that is how
   * many there are, else of as many as a counting pass finds.
   */
  private decoded<T extends { readonly length: number }>(
    number: number,
    make: (length: number) => T,
    decoder: (out: T, cursor: Cursor) => PieceDecoder,
    expected?: number,
  ): T {
    if (expected !== undefined) {
      const out = make(expected);
      const cursor = { at: 0 };
      this.range.pieces(decoder(out, cursor));
      // Writes past the end of a typed array are dropped: a larger count is decoded again below.
      if (cursor.at === expected) return out;
    }
    const counter = { at: 0 };
    this.range.pieces(countValues(number, counter));
    const out = make(counter.at);
    this.range.pieces(decoder(out, { at: 0 }));
    return out;
  }
}

/** The `name` (field 1) of an encoded `AttributeProto`: written first, so found without a scan. */
export function nameOf(bytes: Uint8Array): string {
  let name = "";
  forEachField(bytes, (number, wire, start, end) => {
    if (number === 1 && wire === 2) name = decoder.decode(bytes.subarray(start, end));
    return number === 1;
  });
  return name;
}

/** A one-dimensional `TensorProto`'s element type and values. */
function decodeTensor(bytes: Uint8Array): TensorAttribute {
  let dataType = 0;
  let raw: Uint8Array | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const doubles: number[] = [];
  const data = view(bytes);
  forEachField(bytes, (number, wire, start, end, value) => {
    if (number === 2 && wire === 0) dataType = value;
    else if (number === 9 && wire === 2) raw = bytes.slice(start, end);
    else if (number === 4) {
      if (wire === 5) floats.push(data.getFloat32(start, true));
      else for (let p = start; p < end; p += 4) floats.push(data.getFloat32(p, true));
    } else if (number === 10) {
      if (wire === 1) doubles.push(data.getFloat64(start, true));
      else for (let p = start; p < end; p += 8) doubles.push(data.getFloat64(p, true));
    } else if (number === 5) {
      if (wire === 0) ints.push(value);
      else {
        let pos = start;
        while (pos < end) {
          const [v, next] = readVarint(bytes, pos);
          ints.push(v);
          pos = next;
        }
      }
    }
  });
  // FLOAT 1, UINT8 2, INT8 3, UINT16 4, INT16 5, INT32 6, DOUBLE 11.
  if (raw !== undefined) {
    const buffer = raw.buffer as ArrayBuffer;
    if (dataType === 1) return { dataType, values: new Float32Array(buffer, 0, raw.length / 4) };
    if (dataType === 11) return { dataType, values: new Float64Array(buffer, 0, raw.length / 8) };
    if (dataType === 2) return { dataType, values: Int32Array.from(raw) };
    if (dataType === 6) return { dataType, values: new Int32Array(buffer, 0, raw.length / 4) };
    return { dataType, values: new Int32Array(0) };
  }
  if (dataType === 1) return { dataType, values: Float32Array.from(floats) };
  if (dataType === 11) return { dataType, values: Float64Array.from(doubles) };
  return { dataType, values: Int32Array.from(ints) };
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
