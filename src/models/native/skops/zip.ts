import { inflateRawSync } from "node:zlib";

/**
 * The entries of a zip archive, read from its central directory: enough for skops files (stored or
 * deflated entries, as Python's `zipfile` writes them). Entries are inflated when asked for, one at a time.
 */
export class ZipArchive {
  private constructor(
    private readonly bytes: Buffer,
    private readonly entries: ReadonlyMap<string, Entry>,
  ) {}

  /**
   * Reads the central directory of a zip file's bytes.
   *
   * @throws Error when the bytes are not a zip archive this reader handles (ZIP64, encrypted, other methods)
   */
  static from(bytes: Buffer): ZipArchive {
    const end = findEnd(bytes);
    const count = bytes.readUInt16LE(end + 10);
    let at = bytes.readUInt32LE(end + 16);
    if (count === 0xffff || at === 0xffffffff) throw new Error("ZIP64 archives are not supported");
    const entries = new Map<string, Entry>();
    for (let i = 0; i < count; i++) {
      if (at + 46 > bytes.length || bytes.readUInt32LE(at) !== 0x02014b50) {
        throw new Error(`central directory entry ${i} is damaged`);
      }
      const flags = bytes.readUInt16LE(at + 8);
      const method = bytes.readUInt16LE(at + 10);
      const compressed = bytes.readUInt32LE(at + 20);
      const size = bytes.readUInt32LE(at + 24);
      const nameLength = bytes.readUInt16LE(at + 28);
      const extraLength = bytes.readUInt16LE(at + 30);
      const commentLength = bytes.readUInt16LE(at + 32);
      const local = bytes.readUInt32LE(at + 42);
      const name = bytes.toString("utf8", at + 46, at + 46 + nameLength);
      if ((flags & 1) !== 0) throw new Error(`entry ${name} is encrypted`);
      entries.set(name, { method, compressed, size, local });
      at += 46 + nameLength + extraLength + commentLength;
    }
    return new ZipArchive(bytes, entries);
  }

  /** The entry names, in the archive's order. */
  get names(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * The bytes of an entry.
   *
   * @throws Error when there is no such entry or it cannot be read
   */
  read(name: string): Buffer {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new Error(`the archive has no entry "${name}"`);
    const { bytes } = this;
    const at = entry.local;
    if (at + 30 > bytes.length || bytes.readUInt32LE(at) !== 0x04034b50) {
      throw new Error(`the local header of entry "${name}" is damaged`);
    }
    const start = at + 30 + bytes.readUInt16LE(at + 26) + bytes.readUInt16LE(at + 28);
    const data = bytes.subarray(start, start + entry.compressed);
    if (data.length !== entry.compressed) throw new Error(`entry "${name}" is truncated`);
    let out: Buffer;
    if (entry.method === 0) out = data;
    else if (entry.method === 8) out = inflateRawSync(data);
    else
      throw new Error(
        `entry "${name}" uses compression method ${entry.method} (stored and deflate are read)`,
      );
    if (out.length !== entry.size)
      throw new Error(`entry "${name}" has ${out.length} bytes, not ${entry.size}`);
    return out;
  }
}

interface Entry {
  readonly method: number;
  readonly compressed: number;
  readonly size: number;
  readonly local: number;
}

/** The offset of the end-of-central-directory record (it ends the file, before a comment of up to 64 KB). */
function findEnd(bytes: Buffer): number {
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (bytes.readUInt32LE(at) === 0x06054b50) return at;
  }
  throw new Error("not a zip archive (no end of central directory record)");
}
