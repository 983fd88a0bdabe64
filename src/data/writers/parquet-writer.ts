import * as z from "zod";
import type { Database } from "../database.js";
import { configOf, type OptionsOf } from "../options.js";
import { quotedIdentifier, quotedString } from "../sql.js";
import { type CopyFormat, FILE_WRITER_FIELDS, FileWriter } from "./files.js";
import { pandasMetadata } from "./pandas-metadata.js";
import { ParquetFile } from "./parquet-file.js";
import type { FileSink } from "./sinks.js";
import type { StageOptions } from "./writer.js";

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

/** Parquet compression codecs. */
export type ParquetCompression = ParquetWriterConfig["compression"];

/** The options of {@link ParquetWriter}: its config's fields, camelCase (`maxRowsPerFile`). */
export type ParquetWriterOptions = OptionsOf<typeof ParquetWriterConfig>;

/**
 * Writes Parquet with DuckDB, atomically (temporary file or folder, then rename). Columns that were the
 * input's pandas index are recorded as such in the file's pandas metadata, as pandas would write them.
 *
 * @example
 * ```ts
 * const rows = await new ParquetWriter({ path: "outputs/predictions.parquet", mode: "overwrite" })
 *   .write(db, "(SELECT 1 AS x)");
 * ```
 */
export class ParquetWriter extends FileWriter<ParquetWriterConfig> {
  /**
   * @param options - `path`; `mode` (default `error`); `maxRowsPerFile`; `compression` (default snappy)
   * @throws MlbatchError `E_CONFIG` for an invalid option
   */
  constructor(options: ParquetWriterOptions) {
    super(configOf(ParquetWriterConfig, "ParquetWriter", options));
  }

  protected get format(): CopyFormat {
    return { extension: ".parquet", copy: `FORMAT parquet, COMPRESSION ${this.config.compression}` };
  }

  /** The format's options, with the pandas index and `metadata` as the file's key-value metadata. */
  protected override async copyOptions(db: Database, query: string, options: StageOptions): Promise<string> {
    const index = options.pandasIndex ?? [];
    const entries = Object.entries(options.metadata ?? {});
    if (index.length > 0) entries.unshift(["pandas", await pandasMetadata(db, query, index)]);
    if (entries.length === 0) return this.format.copy;
    const metadata = entries.map(([key, value]) => `${quotedIdentifier(key)}: ${quotedString(value)}`);
    return `${this.format.copy}, KV_METADATA {${metadata.join(", ")}}`;
  }

  /** Row groups appended as the rows come, one footer at the end (parquet-file.ts). */
  protected override fileSink(
    db: Database,
    file: string,
    copy: (query: string) => Promise<string>,
  ): FileSink {
    return new ParquetFile(db, file, copy);
  }
}
