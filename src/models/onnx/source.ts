/**
 * Where a message's bytes are: in memory, or in a file read by position, in pieces, so that a large
 * model is never held whole (a 200-tree forest's ONNX file is 78 MB; its attributes are decoded one
 * piece at a time into typed arrays).
 */
import { closeSync, openSync, readSync } from "node:fs";

/** Bytes of a piece read from a file: large enough for a field header and most fields. */
export const PIECE_BYTES = 1 << 20;

/**
 * Decodes whole fields of `buf[start, end)` and returns where it stopped: `end`, or, unless `last`, the
 * start of a field that may run past `end` (it comes again at the start of the next piece).
 */
export type PieceDecoder = (buf: Uint8Array, start: number, end: number, last: boolean) => number;

/** A range of bytes holding protobuf fields. */
export interface ByteRange {
  /**
   * Runs `decode` over consecutive pieces of the range: in memory, the whole range at once; from a
   * file, pieces of about {@link PIECE_BYTES}, each starting where the decoder stopped in the last one.
   */
  pieces(decode: PieceDecoder): void;
  /** The whole range, in memory (read from the file when it is there). */
  bytes(): Uint8Array;
  /** Its length in bytes. */
  readonly length: number;
}

/** A range of a buffer in memory. */
export class MemoryRange implements ByteRange {
  constructor(private readonly buf: Uint8Array) {}

  get length(): number {
    return this.buf.length;
  }

  pieces(decode: PieceDecoder): void {
    decode(this.buf, 0, this.buf.length, true);
  }

  bytes(): Uint8Array {
    return this.buf;
  }
}

/** A range of a file, read on demand (the file is opened for each read: no descriptor is kept). */
export class FileRange implements ByteRange {
  /**
   * @param offset - where the range starts in the file
   * @param length - its length in bytes
   * @param pieceBytes - the size of the pieces it is read in
   */
  constructor(
    private readonly path: string,
    private readonly offset: number,
    readonly length: number,
    private readonly pieceBytes = PIECE_BYTES,
  ) {}

  pieces(decode: PieceDecoder): void {
    const fd = openSync(this.path, "r");
    try {
      let window = new Uint8Array(Math.min(this.pieceBytes, this.length));
      let at = 0;
      while (at < this.length) {
        const size = Math.min(window.length, this.length - at);
        readFully(fd, window, size, this.offset + at);
        const last = at + size === this.length;
        const done = decode(window, 0, size, last);
        // No progress: one field is longer than the window; read it again in a window twice as large.
        if (done === 0 && !last) window = new Uint8Array(2 * window.length);
        at += done;
      }
    } finally {
      closeSync(fd);
    }
  }

  bytes(): Uint8Array {
    const fd = openSync(this.path, "r");
    try {
      const out = new Uint8Array(this.length);
      readFully(fd, out, this.length, this.offset);
      return out;
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Reads `length` bytes at `position` into `into`.
 *
 * @throws Error when the file ends first (it was truncated or changed while read)
 */
export function readFully(fd: number, into: Uint8Array, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const read = readSync(fd, into, done, length - done, position + done);
    if (read === 0) throw new Error("the file ended before the field did (truncated or changed)");
    done += read;
  }
}
