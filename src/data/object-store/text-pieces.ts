/**
 * CSV and JSON Lines objects cut into pieces as they are read: each object is read in order with ranged
 * requests of one version (gunzipped as it comes, for `.gz`), and written into local piece files of about
 * {@link pieceBytes} bytes each, cut at record boundaries (a newline outside quotes). A piece is made when
 * the consumer asks for it, so the disk holds the piece being read and the one being written, never the
 * object (docs/object-stores.md: why, and what it costs).
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { MlbatchError, messageOf } from "../../errors.js";
import type { Database } from "../database.js";
import type { ObjectVersion } from "./inputs.js";
import { ObjectStore } from "./object-store.js";
import { parseObjectUri } from "./uri.js";

/** Bytes a piece holds (at least: it ends at the first record boundary past this). */
const PIECE_BYTES = 32 * 2 ** 20;
/** Bytes of an object fetched by one ranged request. */
const WINDOW_BYTES = 8 * 2 ** 20;

/**
 * The size of a piece: `MLBATCH_S3_PIECE_BYTES` when set (a positive number), else 32 MiB.
 */
export function pieceBytes(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.MLBATCH_S3_PIECE_BYTES);
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : PIECE_BYTES;
}

/** An object to cut, and the version every window is read from. */
export interface TextObject {
  readonly uri: string;
  readonly version: ObjectVersion;
}

/** How records end: at a newline, outside quotes for CSV. */
export interface TextFormat {
  /** The CSV quote character's byte; undefined for JSON Lines, whose records hold no raw newline. */
  readonly quote?: number | undefined;
  /** The CSV escape character's byte (the quote itself: a doubled quote inside quotes). */
  readonly escape?: number | undefined;
  /** Each object starts with a header record: it is compared with the first object's. */
  readonly header?: boolean | undefined;
}

/** A piece of an object, written whole to a local file, until released. */
export interface TextPiece {
  /** The local file. */
  readonly path: string;
  /** The object it is cut from. */
  readonly uri: string;
  /** Its number in its object: piece 0 starts with the object's header, if it has one. */
  readonly index: number;
  /** Removes the file. */
  release(): Promise<void>;
}

/** Passes made, to name each pass's folder apart (a database's passes may overlap: describe, read). */
let passes = 0;

/**
 * Cuts the objects into pieces, in order, one piece made each time the consumer asks for the next: the
 * pieces on disk are those not yet released plus the one being made. Returning the iterator (a consumer
 * that stops) removes the piece being made.
 *
 * @param only - stop after this many pieces (a description reads the first one)
 * @throws MlbatchError `E_READ` naming the object: a damaged gzip stream, a header unlike the first
 * object's, a read that failed every try (`E_AUTH` for refused credentials)
 */
export async function* textPieces(
  db: Database,
  objects: readonly TextObject[],
  format: TextFormat,
  only = Number.POSITIVE_INFINITY,
): AsyncGenerator<TextPiece> {
  const folder = join(db.scratch(), "text-pieces", String(++passes));
  const target = pieceBytes();
  let made = 0;
  let firstHeader: Buffer | undefined;
  const open = new Set<PieceFile>();
  try {
    for (const object of objects) {
      const { bucket, key } = parseObjectUri(object.uri);
      const name = key.replace(/\.gz$/i, "");
      const scanner = new RecordScanner(format);
      let header: Buffer[] | undefined = format.header ? [] : undefined;
      let index = 0;
      let piece: PieceFile | undefined;
      const startPiece = async () => {
        piece = new PieceFile(join(folder, String(made++), bucket, name));
        open.add(piece);
        await piece.ready();
        return piece;
      };
      const endPiece = async (file: PieceFile): Promise<TextPiece> => {
        await file.close();
        open.delete(file);
        return {
          path: file.path,
          uri: object.uri,
          index: index++,
          release: () => rm(file.path, { force: true }),
        };
      };
      for await (const data of decoded(object)) {
        let rest: Buffer = data;
        if (header !== undefined) {
          // The first record is the header: compared with the first object's, then written as data.
          const end = scanner.nextEnd(rest, 0);
          header.push(end === -1 ? rest : rest.subarray(0, end));
          if (end !== -1) {
            checkHeader(object.uri, objects[0]!.uri, Buffer.concat(header), firstHeader);
            firstHeader ??= Buffer.concat(header);
            header = undefined;
            const file = piece ?? (await startPiece());
            await file.write(rest.subarray(0, end));
            rest = rest.subarray(end);
          } else {
            const file = piece ?? (await startPiece());
            await file.write(rest);
            continue;
          }
        }
        while (rest.length > 0) {
          const file = piece ?? (await startPiece());
          const room = target - file.bytes;
          if (room > rest.length) {
            scanner.skip(rest, 0, rest.length);
            await file.write(rest);
            break;
          }
          scanner.skip(rest, 0, Math.max(0, room));
          const end = scanner.nextEnd(rest, Math.max(0, room));
          if (end === -1) {
            await file.write(rest);
            break;
          }
          await file.write(rest.subarray(0, end));
          rest = rest.subarray(end);
          piece = undefined;
          yield await endPiece(file);
          if (made >= only) return;
        }
      }
      if (header !== undefined && header.length > 0) {
        // The object ended inside its header (one line, no newline).
        checkHeader(object.uri, objects[0]!.uri, Buffer.concat(header), firstHeader);
        firstHeader ??= Buffer.concat(header);
      }
      const last = piece as PieceFile | undefined;
      if (last !== undefined) {
        if (last.bytes === 0) {
          await last.close();
          open.delete(last);
          await rm(last.path, { force: true });
        } else {
          yield await endPiece(last);
          if (made >= only) return;
        }
      }
    }
  } finally {
    for (const file of open) {
      await file.close().catch(() => undefined);
      await rm(file.path, { force: true });
    }
  }
}

/** The object's bytes in order, windows of one version fetched one at a time, gunzipped for `.gz`. */
function decoded(object: TextObject): AsyncIterable<Buffer> {
  const store = ObjectStore.fromEnvironment();
  const { size, etag } = object.version;
  async function* windows(): AsyncGenerator<Buffer> {
    for (let start = 0; start < size; start += WINDOW_BYTES) {
      yield await store.readRangeRetried(object.uri, start, Math.min(size, start + WINDOW_BYTES), etag);
    }
  }
  if (!/\.gz$/i.test(object.uri)) return windows();
  return (async function* () {
    const gunzip = createGunzip();
    const source = Readable.from(windows());
    let failed: unknown;
    source.on("error", (error) => {
      failed = error;
      gunzip.destroy(error);
    });
    source.pipe(gunzip);
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (error) {
      if (failed !== undefined) throw failed;
      throw new MlbatchError(
        "E_READ",
        `cannot read inputs "${object.uri}": the gzip data is damaged (${messageOf(error)}). ` +
          "Check the object (gzip -t on a copy) and upload it again.",
        { cause: error },
      );
    } finally {
      source.destroy();
      gunzip.destroy();
    }
  })();
}

function checkHeader(uri: string, first: string, header: Buffer, firstHeader: Buffer | undefined): void {
  if (firstHeader === undefined || normalized(header) === normalized(firstHeader)) return;
  throw new MlbatchError(
    "E_READ",
    `cannot read inputs "${uri}": its header (${shown(header)}) differs from that of the first file "${first}" ` +
      `(${shown(firstHeader)}). Give every file the same columns.`,
  );
}

/** A header's text without a byte order mark or its line end. */
function normalized(header: Buffer): string {
  return header
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .replace(/\r?\n$/, "");
}

function shown(header: Buffer): string {
  const text = normalized(header);
  return text.length <= 80 ? text : `${text.slice(0, 80)}...`;
}

/** Where records end in a stream of bytes: the quote state carried from one buffer to the next. */
class RecordScanner {
  private inQuote = false;
  /** The byte before was an escape (only with an escape other than the quote). */
  private escaped = false;
  private readonly quote: number | undefined;
  private readonly escape: number | undefined;

  constructor(format: TextFormat) {
    this.quote = format.quote;
    this.escape = format.escape === format.quote ? undefined : format.escape;
  }

  /** Moves the state over `buffer[from, to)`. */
  skip(buffer: Buffer, from: number, to: number): void {
    const { quote } = this;
    if (quote === undefined || to <= from) return;
    if (this.escape === undefined) {
      // A doubled quote turns the state twice: only the parity of the quotes counts.
      let odd = false;
      for (let i = buffer.indexOf(quote, from); i !== -1 && i < to; i = buffer.indexOf(quote, i + 1))
        odd = !odd;
      if (odd) this.inQuote = !this.inQuote;
      return;
    }
    for (let i = from; i < to; i++) this.step(buffer[i]!);
  }

  /**
   * The index just past the first record end (a newline outside quotes) at or after `from`, the state
   * moved to there; -1 when there is none, the state moved to the buffer's end.
   */
  nextEnd(buffer: Buffer, from: number): number {
    const { quote } = this;
    if (quote === undefined) {
      const newline = buffer.indexOf(10, from);
      return newline === -1 ? -1 : newline + 1;
    }
    if (this.escape === undefined) {
      for (let at = from; ; ) {
        const newline = buffer.indexOf(10, at);
        this.skip(buffer, at, newline === -1 ? buffer.length : newline);
        if (newline === -1) return -1;
        if (!this.inQuote) return newline + 1;
        at = newline + 1;
      }
    }
    for (let i = from; i < buffer.length; i++) {
      const byte = buffer[i]!;
      if (byte === 10 && !this.inQuote) return i + 1;
      this.step(byte);
    }
    return -1;
  }

  /** An escape other than the quote escapes the next byte, inside quotes or not (as DuckDB reads it). */
  private step(byte: number): void {
    if (this.escaped) this.escaped = false;
    else if (byte === this.escape) this.escaped = true;
    else if (byte === this.quote) this.inQuote = !this.inQuote;
  }
}

/** A piece's local file, written in order. */
class PieceFile {
  bytes = 0;
  private stream: WriteStream | undefined;

  constructor(readonly path: string) {}

  async ready(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    this.stream = createWriteStream(this.path);
  }

  async write(data: Buffer): Promise<void> {
    if (data.length === 0) return;
    this.bytes += data.length;
    const stream = this.stream!;
    if (!stream.write(data)) {
      await new Promise<void>((resolve, reject) => {
        const failed = (error: Error) => {
          stream.off("drain", drained);
          reject(error);
        };
        const drained = () => {
          stream.off("error", failed);
          resolve();
        };
        stream.once("drain", drained);
        stream.once("error", failed);
      });
    }
  }

  async close(): Promise<void> {
    const stream = this.stream;
    if (stream === undefined || stream.closed) return;
    stream.end();
    await finished(stream);
  }
}
