/**
 * Just enough of the protobuf wire format to read an ONNX model's graph and write sub-models of it.
 * Fields are kept as byte ranges of the original buffer, so re-encoding a node or an initializer is a copy.
 */

/** One field of a message: its number, wire type, and value (a number, or the bytes of a length-delimited field). */
export interface Field {
  readonly number: number;
  readonly wire: number;
  /** A varint's value, as a signed 64-bit number (ONNX ids, counts and enums fit in 2^53); else 0. */
  readonly value: number;
  /** The payload of a length-delimited field, or of a fixed32/fixed64 field (4 or 8 bytes). */
  readonly bytes: Uint8Array;
  /** The whole field as encoded (tag included), to copy it into another message. */
  readonly raw: Uint8Array;
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
const FIXED32 = 5;
const EMPTY: Uint8Array = new Uint8Array(0);

/** Reads the varint at `pos` as a signed 64-bit value; returns it and the position after it. */
function varint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    if (pos >= buf.length) throw new Error("truncated protobuf varint");
    const byte = buf[pos++]!;
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) return [result, pos];
    scale *= 128;
  }
  // Past 49 bits (negative int64s take ten bytes): exact arithmetic.
  let big = BigInt(result);
  let shift = 49n;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated protobuf varint");
    const byte = buf[pos++]!;
    big |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [Number(BigInt.asIntN(64, big)), pos];
    shift += 7n;
    if (shift > 70n) throw new Error("malformed protobuf varint");
  }
}

/** The fields of one message, in order. */
export function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    let tag: number;
    [tag, pos] = varint(buf, pos);
    const number = Math.floor(tag / 8);
    const wire = tag & 7;
    let value = 0;
    let bytes: Uint8Array = EMPTY;
    if (wire === VARINT) {
      [value, pos] = varint(buf, pos);
    } else if (wire === LENGTH) {
      let length: number;
      [length, pos] = varint(buf, pos);
      if (pos + length > buf.length) throw new Error("truncated protobuf field");
      bytes = buf.subarray(pos, pos + length);
      pos += length;
    } else if (wire === FIXED32 || wire === FIXED64) {
      const size = wire === FIXED32 ? 4 : 8;
      if (pos + size > buf.length) throw new Error("truncated protobuf field");
      bytes = buf.subarray(pos, pos + size);
      pos += size;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
    out.push({ number, wire, value, bytes, raw: buf.subarray(start, pos) });
  }
  return out;
}

const decoder = new TextDecoder();

/** A length-delimited field as UTF-8 text. */
export function text(field: Field): string {
  return decoder.decode(field.bytes);
}

/** A varint field's value (signed 64-bit: int64 fields encode negatives in ten bytes). */
export function int64(field: Field): number {
  return field.value;
}

/** A fixed32 field as a float. */
export function float32(field: Field): number {
  return new DataView(field.bytes.buffer, field.bytes.byteOffset, 4).getFloat32(0, true);
}

/** Appends the values of a repeated int64 field (packed or not) to `out`. */
export function pushInts(field: Field, out: number[]): void {
  if (field.wire === VARINT) {
    out.push(int64(field));
    return;
  }
  let pos = 0;
  const buf = field.bytes;
  while (pos < buf.length) {
    let value: number;
    [value, pos] = varint(buf, pos);
    out.push(value);
  }
}

/** Appends the values of a repeated float field (packed or not) to `out`. */
export function pushFloats(field: Field, out: number[]): void {
  if (field.wire === FIXED32) {
    out.push(float32(field));
    return;
  }
  const view = new DataView(field.bytes.buffer, field.bytes.byteOffset, field.bytes.byteLength);
  for (let pos = 0; pos + 4 <= field.bytes.byteLength; pos += 4) out.push(view.getFloat32(pos, true));
}

/** Builds messages: fields are appended as they are written. */
export class Writer {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  /** Copies encoded fields as they are. */
  raw(...raws: Uint8Array[]): this {
    for (const raw of raws) {
      this.parts.push(raw);
      this.length += raw.length;
    }
    return this;
  }

  /** A varint field. */
  uint(number: number, value: number): this {
    return this.raw(encodeVarint(number * 8 + VARINT), encodeVarint(value));
  }

  /** A length-delimited field: bytes, a sub-message, or a string. */
  bytes(number: number, value: Uint8Array | Writer | string): this {
    const payload =
      typeof value === "string"
        ? new TextEncoder().encode(value)
        : value instanceof Writer
          ? value.finish()
          : value;
    return this.raw(encodeVarint(number * 8 + LENGTH), encodeVarint(payload.length), payload);
  }

  /** The message's bytes. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let pos = 0;
    for (const part of this.parts) {
      out.set(part, pos);
      pos += part.length;
    }
    return out;
  }
}

function encodeVarint(value: number): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Uint8Array.from(bytes);
}
