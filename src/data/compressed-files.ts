/**
 * Whole-file checks of compressed inputs. DuckDB's gzip reader checks neither the CRC nor the length of a
 * member and stops silently where a cut file ends, and its zstd reader stops silently too: a damaged file
 * would be read as fewer (or wrong) rows. So every file DuckDB decompresses (it goes by the name: `.gz`,
 * `.zst`) is read once more here, in the background, while DuckDB reads it.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { MlbatchError, messageOf } from "../errors.js";
import { zstdDamage } from "./zstd-frames.js";

/** The compressions DuckDB detects from a file's name, and the tool that tests such a file. */
const FORMATS = [
  { suffix: ".gz", name: "gzip", damage: gzipDamage },
  { suffix: ".zst", name: "zstd", damage: zstdDamage },
] as const;

/**
 * The running check of a reader's compressed files, one file at a time in path order (the order DuckDB
 * reads them). Its results never reject: a damaged file is an `E_READ` to throw.
 *
 * @example
 * ```ts
 * const check = CompressedFiles.check(["in/a.csv.gz", "in/b.csv.gz"]);
 * const damaged = await check?.damage();
 * if (damaged !== undefined) throw damaged;
 * ```
 */
export class CompressedFiles {
  private constructor(private readonly results: ReadonlyMap<string, Promise<MlbatchError | undefined>>) {}

  /**
   * Starts checking the files DuckDB would decompress.
   *
   * @returns the running check, or undefined when no file is compressed
   */
  static check(files: readonly string[]): CompressedFiles | undefined {
    const results = new Map<string, Promise<MlbatchError | undefined>>();
    let previous: Promise<MlbatchError | undefined> = Promise.resolve(undefined);
    for (const file of files) {
      const format = FORMATS.find((f) => file.endsWith(f.suffix));
      if (format === undefined) continue;
      // After a damaged file the others are not read: the job fails on the first one anyway.
      previous = previous.then(
        async (damaged) =>
          damaged ??
          format.damage(file).then(
            (reason) => (reason === undefined ? undefined : damagedError(file, format.name, reason)),
            (error: unknown) => unreadableError(file, error),
          ),
      );
      results.set(file, previous);
    }
    return results.size === 0 ? undefined : new CompressedFiles(results);
  }

  /**
   * Waits for the check and gives the error of the first damaged file, or undefined when all are whole.
   *
   * @param file - the file DuckDB failed on, when it named one: wait only for the files up to it (none
   * when it is not compressed)
   */
  async damage(file?: string): Promise<MlbatchError | undefined> {
    if (file !== undefined) return this.results.get(file);
    for (const result of this.results.values()) {
      const damaged = await result;
      if (damaged !== undefined) return damaged;
    }
    return undefined;
  }
}

/** Decompresses a gzip file with no output kept, as `gzip -t` does (every member, CRC and length). */
async function gzipDamage(path: string): Promise<string | undefined> {
  const { size } = await stat(path);
  const gunzip = createGunzip({ chunkSize: 1 << 16 });
  try {
    await pipeline(createReadStream(path, { highWaterMark: 1 << 16 }), gunzip, async (output) => {
      for await (const _ of output);
    });
  } catch (error) {
    return gzipReason(error, size, gunzip.bytesWritten);
  }
  // zlib stops at bytes that cannot start a member; DuckDB fails on them ("Input is not a GZIP stream").
  const consumed = gunzip.bytesWritten;
  return consumed < size ? `${size - consumed} bytes of trailing garbage after the gzip data` : undefined;
}

function gzipReason(error: unknown, size: number, consumed: number): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === "Z_BUF_ERROR") return `unexpected end of file after ${size} bytes: the file is truncated`;
  if (message === "incorrect data check") return "bad CRC: the data are not those that were compressed";
  if (message === "incorrect length check") return "bad length: the data are not those that were compressed";
  if (message === "incorrect header check" || message === "unknown compression method") {
    return consumed === 0 ? "it is not gzip data" : "trailing garbage after the gzip data";
  }
  return `invalid compressed data near byte ${consumed}: ${message}`;
}

function damagedError(file: string, format: string, reason: string): MlbatchError {
  return new MlbatchError(
    "E_READ",
    `cannot read inputs "${file}": the ${format} data is damaged (${reason}). ` +
      `Check the file (${format} -t ${file}) and copy it again.`,
  );
}

function unreadableError(file: string, error: unknown): MlbatchError {
  return new MlbatchError("E_READ", `cannot read inputs "${file}": ${messageOf(error)}. Check the file.`, {
    cause: error,
  });
}
