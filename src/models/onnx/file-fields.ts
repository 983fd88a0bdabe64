import { closeSync, fstatSync, openSync } from "node:fs";
import type { Field } from "./protobuf.js";
import { readVarint } from "./protobuf.js";
import { readFully } from "./source.js";

/** A field of a file, located: its header read, its payload left in the file. */
export interface FileField {
  readonly number: number;
  readonly wire: number;
  /** A varint's value; else 0. */
  readonly value: number;
  /** Where the field starts (its tag). */
  readonly start: number;
  /** Where its payload starts. */
  readonly payload: number;
  /** Where it ends. */
  readonly end: number;
}

/** Bytes read at once for field headers: the small fields around them come with them. */
const WINDOW = 1 << 16;

/**
 * A model file's fields read by position, headers first: a large field (a forest's node) is located
 * without being read. Open while a model is parsed; {@link FileFields.close} it after.
 */
export class FileFields {
  private readonly fd: number;
  /** The file's size in bytes. */
  readonly size: number;
  private window = new Uint8Array(WINDOW);
  private windowStart = 0;
  private windowEnd = 0;

  /** @throws Error when the file cannot be opened */
  constructor(path: string) {
    this.fd = openSync(path, "r");
    try {
      this.size = fstatSync(this.fd).size;
    } catch (error) {
      closeSync(this.fd);
      throw error;
    }
  }

  /**
   * The fields of the message in `[start, end)`, in order.
   *
   * @throws Error when a field runs past `end`
   */
  *fields(start: number, end: number): Generator<FileField> {
    let pos = start;
    while (pos < end) {
      const header = this.at(pos, Math.min(15, end - pos));
      const [tag, afterTag] = readVarint(header.buf, header.offset);
      const wire = tag & 7;
      let payload = pos + afterTag - header.offset;
      let value = 0;
      let fieldEnd: number;
      if (wire === 0) {
        const [v, after] = readVarint(header.buf, afterTag);
        value = v;
        fieldEnd = pos + after - header.offset;
      } else if (wire === 2) {
        const [size, after] = readVarint(header.buf, afterTag);
        payload = pos + after - header.offset;
        fieldEnd = payload + size;
      } else if (wire === 5 || wire === 1) fieldEnd = payload + (wire === 5 ? 4 : 8);
      else throw new Error(`unsupported protobuf wire type ${wire}`);
      if (fieldEnd > end) throw new Error("truncated protobuf field");
      yield { number: tag >>> 3, wire, value, start: pos, payload, end: fieldEnd };
      pos = fieldEnd;
    }
  }

  /** The bytes `[start, end)` of the file. */
  read(start: number, end: number): Uint8Array {
    const out = new Uint8Array(end - start);
    if (start >= this.windowStart && end <= this.windowEnd) {
      out.set(this.window.subarray(start - this.windowStart, end - this.windowStart));
    } else readFully(this.fd, out, out.length, start);
    return out;
  }

  /** A located field, read: as {@link fields} gives it for a message in memory. */
  field(f: FileField): Field {
    const raw = this.read(f.start, f.end);
    return {
      number: f.number,
      wire: f.wire,
      value: f.value,
      bytes: f.wire === 0 ? new Uint8Array(0) : raw.subarray(f.payload - f.start),
      raw,
    };
  }

  /** Closes the file. */
  close(): void {
    closeSync(this.fd);
  }

  /** At least `length` bytes from `pos` (fewer at the end of the file), in the window. */
  private at(pos: number, length: number): { buf: Uint8Array; offset: number } {
    if (pos < this.windowStart || pos + length > this.windowEnd) {
      const size = Math.min(WINDOW, this.size - pos);
      if (size < length) throw new Error("truncated protobuf field");
      readFully(this.fd, this.window, size, pos);
      this.windowStart = pos;
      this.windowEnd = pos + size;
    }
    return { buf: this.window, offset: pos - this.windowStart };
  }
}
