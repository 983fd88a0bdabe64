/**
 * Walks the frames and blocks of a zstd file (RFC 8878) without decompressing it, to tell a whole file
 * from a truncated one: DuckDB's zstd reader stops silently where a cut file ends. DuckDB itself checks
 * the compressed data and the content checksum, so block contents are skipped, not decoded.
 */
import { type FileHandle, open } from "node:fs/promises";

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const BLOCK_RLE = 1;
const BLOCK_RESERVED = 3;

/**
 * What is wrong with a zstd file's framing, e.g. "unexpected end of file after 1204 bytes: the file is
 * truncated", or undefined when every frame is complete.
 *
 * @throws the file system's error when the file cannot be read
 */
export async function zstdDamage(path: string): Promise<string | undefined> {
  const file = await open(path, "r");
  try {
    const size = (await file.stat()).size;
    const truncated = `unexpected end of file after ${size} bytes: the file is truncated`;
    if (size === 0) return truncated;
    let at = 0;
    while (at < size) {
      const frame = await frameEnd(file, at);
      if (frame === "unknown") {
        return at === 0
          ? "it is not zstd data"
          : `${size - at} bytes of trailing garbage after the zstd data`;
      }
      if (frame === "reserved") return `a block of reserved type after byte ${at}: the data are corrupt`;
      if (frame === "truncated" || frame > size) return truncated;
      at = frame;
    }
    return undefined;
  } finally {
    await file.close();
  }
}

/** Where the frame starting at `at` ends, or why it cannot be walked. */
async function frameEnd(
  file: FileHandle,
  at: number,
): Promise<number | "truncated" | "unknown" | "reserved"> {
  // 4 bytes of magic, then a header of at most 14 bytes (descriptor, window, dictionary id, content size).
  const head = await bytes(file, at, 18);
  if (head.length < 4) return "truncated";
  const magic = head.readUInt32LE(0);
  if ((magic & SKIPPABLE_MASK) === SKIPPABLE_MAGIC) {
    return head.length < 8 ? "truncated" : at + 8 + head.readUInt32LE(4);
  }
  if (magic !== FRAME_MAGIC) return "unknown";
  if (head.length < 5) return "truncated";
  const descriptor = head[4]!;
  const contentSizeFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const checksum = (descriptor >> 2) & 1;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!;
  const contentBytes = [singleSegment, 2, 4, 8][contentSizeFlag]!;
  let position = at + 5 + (singleSegment === 1 ? 0 : 1) + dictionaryBytes + contentBytes;
  for (;;) {
    const header = await bytes(file, position, 3);
    if (header.length < 3) return "truncated";
    const value = header.readUIntLE(0, 3);
    const last = value & 1;
    const type = (value >> 1) & 3;
    if (type === BLOCK_RESERVED) return "reserved";
    position += 3 + (type === BLOCK_RLE ? 1 : value >> 3);
    if (last === 1) return position + (checksum === 1 ? 4 : 0);
  }
}

async function bytes(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}
