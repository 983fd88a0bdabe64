import * as z from "zod";
import { type CopyFormat, FILE_WRITER_FIELDS, FileWriter, type FileWriterOptions } from "./files.js";

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
export class ParquetWriter extends FileWriter {
  /** @param options - `path`; `mode` (default `error`); `maxRowsPerFile`; `compression` (default snappy) */
  constructor(private readonly options: FileWriterOptions & { readonly compression?: ParquetCompression }) {
    super(options);
  }

  protected get format(): CopyFormat {
    return {
      extension: ".parquet",
      copy: `FORMAT parquet, COMPRESSION ${this.options.compression ?? "snappy"}`,
    };
  }
}
