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
const LENGTH = 2;
const EMPTY: Uint8Array = new Uint8Array(0);

/** Reads the varint at `pos` as a signed 64-bit value; returns it and the position after it. */
export function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let scale = 1;
  let p = pos;
  for (let i = 0; i < 7; i++) {
    const byte = buf[p++]!;
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) return [result, p];
    scale *= 128;
  }
  // Past 49 bits (negative int64s take ten bytes): exact arithmetic.
  let big = BigInt(result);
  for (let shift = 49n; shift < 70n; shift += 7n) {
    const byte = buf[p++]!;
    big |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [Number(BigInt.asIntN(64, big)), p];
  }
  throw new Error("malformed protobuf varint");
}

/**
 * Calls `visit` for each field: the payload range of length-delimited and fixed fields, the value of
 * varints. Stops when `visit` returns true.
 */
export function forEachField(
  buf: Uint8Array,
  visit: (number: number, wire: number, start: number, end: number, value: number) => unknown,
): void {
  let pos = 0;
  const length = buf.length;
  while (pos < length) {
    let tag = buf[pos++]!;
    if (tag >= 0x80) {
      const [value, after] = readVarint(buf, pos - 1);
      tag = value;
      pos = after;
    }
    const wire = tag & 7;
    const number = tag >>> 3;
    let stop: unknown;
    if (wire === 0) {
      const byte = buf[pos]!;
      if (byte < 0x80) {
        stop = visit(number, wire, pos, pos + 1, byte);
        pos++;
      } else {
        const [value, next] = readVarint(buf, pos);
        stop = visit(number, wire, pos, next, value);
        pos = next;
      }
    } else if (wire === 2) {
      const [size, start] = readVarint(buf, pos);
      if (size < 0 || start + size > length) throw new Error("truncated protobuf field");
      stop = visit(number, wire, start, start + size, 0);
      pos = start + size;
    } else if (wire === 5 || wire === 1) {
      const size = wire === 5 ? 4 : 8;
      if (pos + size > length) throw new Error("truncated protobuf field");
      stop = visit(number, wire, pos, pos + size, 0);
      pos += size;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (stop === true) return;
  }
}

/** The fields of one message, in order. */
export function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let start = 0;
  forEachField(buf, (number, wire, from, to, value) => {
    // A field's encoding ends where its payload does.
    const bytes = wire === VARINT ? EMPTY : buf.subarray(from, to);
    out.push({ number, wire, value, bytes, raw: buf.subarray(start, to) });
    start = to;
  });
  return out;
}

const decoder = new TextDecoder();

/** A length-delimited field as UTF-8 text. */
export function text(field: Field): string {
  return decoder.decode(field.bytes);
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
