/**
 * Thrift's compact protocol, generically: a Parquet footer (`FileMetaData`) read into fields and written
 * back byte for byte, so that a few offsets can be changed and every other field, known or not, is kept.
 * See https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md.
 */

/** Compact protocol type ids (booleans in a struct carry their value in the type: 1 true, 2 false). */
export const TYPE = {
  TRUE: 1,
  FALSE: 2,
  I8: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  DOUBLE: 7,
  BINARY: 8,
  LIST: 9,
  SET: 10,
  MAP: 11,
  STRUCT: 12,
} as const;

/** A decoded value: integers up to 32 bits as numbers, 64-bit ones as bigints. */
export type ThriftValue = boolean | number | bigint | Uint8Array | ThriftList | ThriftStruct;

/** A list or set: its element type and items. */
export interface ThriftList {
  readonly elementType: number;
  readonly items: ThriftValue[];
}

/** A struct's fields, in the order they were read. */
export interface ThriftStruct {
  readonly fields: ThriftField[];
}

export interface ThriftField {
  readonly id: number;
  readonly type: number;
  value: ThriftValue;
}

/** Reads a struct from `bytes` at `offset`. */
export function readStruct(bytes: Uint8Array, offset = 0): { struct: ThriftStruct; end: number } {
  const reader = new Reader(bytes, offset);
  const struct = reader.struct();
  return { struct, end: reader.pos };
}

/** The compact encoding of a struct. */
export function writeStruct(struct: ThriftStruct): Uint8Array {
  const writer = new Writer();
  writer.struct(struct);
  return writer.bytes();
}

/** The field `id` of a struct, if present. */
export function field(struct: ThriftStruct, id: number): ThriftField | undefined {
  return struct.fields.find((f) => f.id === id);
}

class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
  ) {}

  struct(): ThriftStruct {
    const fields: ThriftField[] = [];
    let last = 0;
    for (;;) {
      const header = this.byte();
      if (header === 0) return { fields };
      const type = header & 0x0f;
      const delta = header >> 4;
      const id = delta === 0 ? Number(zigzag(this.varint())) : last + delta;
      last = id;
      const value = type === TYPE.TRUE || type === TYPE.FALSE ? type === TYPE.TRUE : this.value(type);
      fields.push({ id, type, value });
    }
  }

  private value(type: number): ThriftValue {
    switch (type) {
      case TYPE.I8:
        return (this.byte() << 24) >> 24;
      case TYPE.I16:
      case TYPE.I32:
        return Number(zigzag(this.varint()));
      case TYPE.I64:
        return zigzag(this.varint());
      case TYPE.DOUBLE: {
        const value = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8).getFloat64(
          0,
          true,
        );
        this.pos += 8;
        return value;
      }
      case TYPE.BINARY: {
        const length = Number(this.varint());
        const value = this.bytes.subarray(this.pos, this.pos + length);
        this.pos += length;
        return value;
      }
      case TYPE.LIST:
      case TYPE.SET: {
        const header = this.byte();
        const elementType = header & 0x0f;
        const size = header >> 4 === 15 ? Number(this.varint()) : header >> 4;
        const items: ThriftValue[] = [];
        const bools = elementType === TYPE.TRUE || elementType === TYPE.FALSE;
        for (let i = 0; i < size; i++)
          items.push(bools ? this.byte() === TYPE.TRUE : this.value(elementType));
        return { elementType, items };
      }
      case TYPE.STRUCT:
        return this.struct();
      default:
        // Maps do not occur in Parquet's footer.
        throw new Error(`thrift compact type ${type} is not supported`);
    }
  }

  private byte(): number {
    const value = this.bytes[this.pos++];
    if (value === undefined) throw new Error("thrift: unexpected end of data");
    return value;
  }

  private varint(): bigint {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
  }
}

class Writer {
  private readonly chunks: number[] = [];

  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }

  struct(struct: ThriftStruct): void {
    let last = 0;
    for (const f of struct.fields) {
      const type =
        f.type === TYPE.TRUE || f.type === TYPE.FALSE ? (f.value ? TYPE.TRUE : TYPE.FALSE) : f.type;
      const delta = f.id - last;
      if (delta > 0 && delta <= 15) this.chunks.push((delta << 4) | type);
      else {
        this.chunks.push(type);
        this.varint(unzigzag(BigInt(f.id)));
      }
      last = f.id;
      if (type !== TYPE.TRUE && type !== TYPE.FALSE) this.value(type, f.value);
    }
    this.chunks.push(0);
  }

  private value(type: number, value: ThriftValue): void {
    switch (type) {
      case TYPE.I8:
        this.chunks.push((value as number) & 0xff);
        return;
      case TYPE.I16:
      case TYPE.I32:
      case TYPE.I64:
        this.varint(unzigzag(BigInt(value as number | bigint)));
        return;
      case TYPE.DOUBLE: {
        const bytes = new Uint8Array(8);
        new DataView(bytes.buffer).setFloat64(0, value as number, true);
        this.chunks.push(...bytes);
        return;
      }
      case TYPE.BINARY: {
        const bytes = value as Uint8Array;
        this.varint(BigInt(bytes.length));
        for (const b of bytes) this.chunks.push(b);
        return;
      }
      case TYPE.LIST:
      case TYPE.SET: {
        const { elementType, items } = value as ThriftList;
        if (items.length < 15) this.chunks.push((items.length << 4) | elementType);
        else {
          this.chunks.push(0xf0 | elementType);
          this.varint(BigInt(items.length));
        }
        for (const item of items) {
          if (elementType === TYPE.TRUE || elementType === TYPE.FALSE)
            this.chunks.push(item ? TYPE.TRUE : TYPE.FALSE);
          else this.value(elementType, item);
        }
        return;
      }
      case TYPE.STRUCT:
        this.struct(value as ThriftStruct);
        return;
      default:
        throw new Error(`thrift compact type ${type} is not supported`);
    }
  }

  private varint(value: bigint): void {
    let v = value;
    while (v >= 0x80n) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
  }
}

function zigzag(n: bigint): bigint {
  return (n >> 1n) ^ -(n & 1n);
}

function unzigzag(n: bigint): bigint {
  return n >= 0n ? n << 1n : (-n << 1n) - 1n;
}
