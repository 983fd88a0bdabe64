/**
 * Decoders of an attribute's repeated values (`floats`, `ints`, `strings`), packed or one field per value,
 * over the pieces a `ByteRange` gives: tight loops that stop before a field a piece cuts (it comes
 * whole at the start of the next piece), with no callback per field and no allocation per value.
 */
import { readVarint } from "./protobuf.js";
import type { PieceDecoder } from "./source.js";

/** The field numbers of `AttributeProto`'s repeated values. */
export const FLOATS = 7;
export const INTS = 8;
export const STRINGS = 9;
/** Tags (field number and wire type) of the repeated values: one per field, or packed. */
const FLOATS_ONE = (FLOATS << 3) | 5;
const FLOATS_PACKED = (FLOATS << 3) | 2;
const INTS_ONE = (INTS << 3) | 0;
const INTS_PACKED = (INTS << 3) | 2;
const STRINGS_ONE = (STRINGS << 3) | 2;

/** Set by {@link varint}: the position after the varint it read. */
let after = 0;

/** The varint at `p` (as {@link readVarint} reads it), without allocating; sets {@link after}. */
function varint(buf: Uint8Array, p: number): number {
  const b0 = buf[p]!;
  if (b0 < 0x80) {
    after = p + 1;
    return b0;
  }
  const b1 = buf[p + 1]!;
  if (b1 < 0x80) {
    after = p + 2;
    return (b0 & 0x7f) | (b1 << 7);
  }
  const b2 = buf[p + 2]!;
  if (b2 < 0x80) {
    after = p + 3;
    return (b0 & 0x7f) | ((b1 & 0x7f) << 7) | (b2 << 14);
  }
  const [value, next] = readVarint(buf, p);
  after = next;
  return value;
}

/**
 * Where the field at `p` ends, or a position past `end` when it is cut there (its header may be cut
 * too: nothing at or after `end` is read).
 */
function fieldEnd(buf: Uint8Array, p: number, end: number): number {
  const tag = varintBefore(buf, p, end);
  if (tag === undefined) return end + 1;
  const wire = tag % 8;
  if (wire === 5) return after + 4;
  if (wire === 1) return after + 8;
  if (wire !== 0 && wire !== 2) throw new Error(`unsupported protobuf wire type ${wire}`);
  // A varint field ends with its value; a length-delimited one after its payload.
  const size = varintBefore(buf, after, end);
  if (size === undefined) return end + 1;
  return wire === 0 ? after : after + size;
}

/** The varint at `p`, when it ends before `end` (and sets {@link after}); undefined when `end` cuts it. */
function varintBefore(buf: Uint8Array, p: number, end: number): number | undefined {
  let value = 0;
  for (let at = p, scale = 1; at < end; scale *= 128) {
    const byte = buf[at++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      after = at;
      return value;
    }
  }
  return undefined;
}

/** Where a field's payload of wire type `wire`, at `p`, ends. */
function skip(buf: Uint8Array, p: number, wire: number): number {
  if (wire === 0) {
    let at = p;
    while (buf[at++]! >= 0x80) if (at - p >= 10) throw new Error("malformed protobuf varint");
    return at;
  }
  if (wire === 2) {
    const size = varint(buf, p);
    return after + size;
  }
  if (wire === 5) return p + 4;
  if (wire === 1) return p + 8;
  throw new Error(`unsupported protobuf wire type ${wire}`);
}

/** Longest header plus varint or fixed64: a field starting before `end - TAIL` is whole unless long. */
const TAIL = 16;

/**
 * The tag of the field at `p`, its payload's start in {@link after}; -1 when the field, near the end of
 * a piece, runs past `end`: the piece stops there (or, in the last piece, the attribute is truncated).
 */
function header(buf: Uint8Array, p: number, end: number, last: boolean): number {
  if (p + TAIL > end && fieldEnd(buf, p, end) > end) {
    if (last) throw new Error("truncated protobuf field");
    return -1;
  }
  return varint(buf, p);
}

/** The size of the length-delimited payload at `from`, which starts at {@link after}; -1 when cut (as {@link header}). */
function payload(buf: Uint8Array, from: number, end: number, last: boolean): number {
  const size = varint(buf, from);
  if (after + size <= end) return size;
  if (last) throw new Error("truncated protobuf field");
  return -1;
}

/** A decoder's output position, kept across pieces. */
export interface Cursor {
  at: number;
}

/** Counts the values of repeated field `number` (one per field, or packed) into `c.at`. */
export function countValues(number: number, c: Cursor): PieceDecoder {
  const one = number === FLOATS ? FLOATS_ONE : number === INTS ? INTS_ONE : STRINGS_ONE;
  return (buf, start, end, last) => {
    let p = start;
    let count = c.at;
    while (p < end) {
      const tag = header(buf, p, end, last);
      if (tag < 0) break;
      const from = after;
      const wire = tag & 7;
      if (tag === one) {
        // The common case, one value per field (counted once it is whole in this piece).
        if (wire !== 2) p = skip(buf, from, wire);
        else {
          const size = payload(buf, from, end, last);
          if (size < 0) break;
          p = after + size;
        }
        count++;
      } else if (tag >>> 3 === number && wire === 2) {
        const size = payload(buf, from, end, last);
        if (size < 0) break;
        const first = after;
        if (number === FLOATS) count += size >>> 2;
        else for (let q = first; q < first + size; q++) count += buf[q]! < 0x80 ? 1 : 0;
        p = first + size;
      } else p = skip(buf, from, wire);
    }
    c.at = count;
    return p;
  };
}

/** Decodes `floats` into `out` from `c.at`. */
export function readFloats(out: Float32Array, c: Cursor): PieceDecoder {
  return (buf, start, end, last) => {
    const data = view(buf);
    let p = start;
    while (p < end) {
      const tag = header(buf, p, end, last);
      if (tag < 0) break;
      const from = after;
      if (tag === FLOATS_ONE) {
        out[c.at++] = data.getFloat32(from, true);
        p = from + 4;
      } else if (tag === FLOATS_PACKED) {
        const size = payload(buf, from, end, last);
        if (size < 0) break;
        const first = after;
        for (let q = first; q + 4 <= first + size; q += 4) out[c.at++] = data.getFloat32(q, true);
        p = first + size;
      } else p = skip(buf, from, tag & 7);
    }
    return p;
  };
}

/**
 * Decodes `ints` into `out` from `c.at`: as int32 (a RangeError naming the attribute for a value that
 * does not fit), or exactly into a BigInt64Array.
 */
export function readInts(out: Int32Array | BigInt64Array, c: Cursor, name: string): PieceDecoder {
  const exact = out instanceof BigInt64Array ? out : undefined;
  const ints = out as Int32Array;
  const value = (buf: Uint8Array, q: number) => {
    if (exact) exact[c.at++] = exactVarint(buf, q);
    else ints[c.at++] = int32(buf, q, name);
  };
  return (buf, start, end, last) => {
    let p = start;
    while (p < end) {
      if (!exact && buf[p] === INTS_ONE && p + TAIL <= end) {
        // The common case, one int32 per field (node and tree ids), decoded inline.
        const v = varint(buf, p + 1);
        if (v !== (v | 0)) throw new RangeError(`attribute ${name}: ${v} does not fit in 32 bits`);
        ints[c.at++] = v;
        p = after;
        continue;
      }
      const tag = header(buf, p, end, last);
      if (tag < 0) break;
      const from = after;
      if (tag === INTS_ONE) {
        value(buf, from);
        p = skip(buf, from, 0);
      } else if (tag === INTS_PACKED) {
        const size = payload(buf, from, end, last);
        if (size < 0) break;
        const first = after;
        for (let q = first; q < first + size; q = skip(buf, q, 0)) value(buf, q);
        p = first + size;
      } else p = skip(buf, from, tag & 7);
    }
    return p;
  };
}

/** The varint at `p` as an int32. */
function int32(buf: Uint8Array, p: number, name: string): number {
  const value = varint(buf, p);
  if (value !== (value | 0)) throw new RangeError(`attribute ${name}: ${value} does not fit in 32 bits`);
  return value;
}

/** The varint at `p` as a signed 64-bit integer, exactly. */
function exactVarint(buf: Uint8Array, p: number): bigint {
  let value = 0n;
  let shift = 0n;
  for (let at = p; ; at++) {
    const byte = buf[at]!;
    value |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if (byte < 0x80) return BigInt.asIntN(64, value);
  }
}

/** Maps `strings` to their index in `table` (-1: absent) into `out` from `c.at`. */
export function readCodes(table: readonly Uint8Array[], out: Int8Array, c: Cursor): PieceDecoder {
  return (buf, start, end, last) => {
    let p = start;
    while (p < end) {
      const tag = header(buf, p, end, last);
      if (tag < 0) break;
      const from = after;
      if (tag !== STRINGS_ONE) {
        p = skip(buf, from, tag & 7);
        continue;
      }
      const size = payload(buf, from, end, last);
      if (size < 0) break;
      out[c.at++] = codeOf(table, buf, after, size);
      p = after + size;
    }
    return p;
  };
}

/** The index in `table` of the string `buf[first, first + size)`, or -1. */
function codeOf(table: readonly Uint8Array[], buf: Uint8Array, first: number, size: number): number {
  for (let k = 0; k < table.length; k++) {
    const entry = table[k]!;
    if (entry.length !== size) continue;
    let j = 0;
    while (j < size && entry[j] === buf[first + j]) j++;
    if (j === size) return k;
  }
  return -1;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
