import * as z from "zod";
import type { Database } from "../database.js";
import { checkTarget, type StagedOutput } from "./atomic.js";
import { FILE_WRITER_FIELDS, type FileWriterOptions, stageCopy } from "./files.js";
import type { Writer } from "./writer.js";

/** Parquet compression codecs. */
export type ParquetCompression = "snappy" | "zstd" | "gzip" | "lz4" | "brotli" | "uncompressed";

/** Config of {@link ParquetWriter}. */
export const ParquetWriterConfig = z
  .strictObject({
    KIND: z.literal("ParquetWriter"),
    ...FILE_WRITER_FIELDS,
    compression: z
      .union([
        z.literal("snappy"),
        z.literal("zstd"),
        z.literal("gzip"),
        z.literal("lz4"),
        z.literal("brotli"),
        z.literal("uncompressed"),
      ])
      .default("snappy")
      .describe("Compression codec of the Parquet pages."),
  })
  .describe("Writes Parquet, readable by pandas, pyarrow, Spark and DuckDB.");
export type ParquetWriterConfig = z.infer<typeof ParquetWriterConfig>;

/**
 * Writes Parquet with DuckDB, atomically (temporary file or folder, then rename).
 *
 * @example
 * ```ts
 * const rows = await new ParquetWriter({ path: "outputs/predictions.parquet", mode: "overwrite" })
 *   .write(db, "(SELECT 1 AS x)");
 * ```
 */
export class ParquetWriter implements Writer {
  readonly path: string;

  /** @param options - `path`; `mode` (default `error`); `maxRowsPerFile`; `compression` (default snappy) */
  constructor(private readonly options: FileWriterOptions & { readonly compression?: ParquetCompression }) {
    this.path = options.path;
  }

  /** @inheritdoc */
  check(): Promise<void> {
    return checkTarget(this.path, this.options.mode ?? "error");
  }

  /** @inheritdoc */
  stage(db: Database, query: string): Promise<StagedOutput> {
    const compression = this.options.compression ?? "snappy";
    return stageCopy(db, query, {
      ...this.options,
      extension: ".parquet",
      copy: `FORMAT parquet, COMPRESSION ${compression}`,
    });
  }

  /** @inheritdoc */
  async write(db: Database, query: string): Promise<number> {
    const staged = await this.stage(db, query);
    await staged.commit();
    return staged.rows;
  }
}
