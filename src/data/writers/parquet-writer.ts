import * as z from "zod";
import type { Database } from "../database.js";
import { quotedString } from "../sql.js";
import { writeAtomically } from "./atomic.js";
import type { Writer } from "./writer.js";

/** Config of {@link ParquetWriter}. */
export const ParquetWriterConfig = z
  .strictObject({
    KIND: z.literal("ParquetWriter"),
    path: z
      .string()
      .min(1)
      .describe("Parquet file to write, relative to the working directory; its folder is created."),
  })
  .describe("Writes a Parquet file (snappy), readable by pandas, pyarrow, Spark and DuckDB.");
export type ParquetWriterConfig = z.infer<typeof ParquetWriterConfig>;

/**
 * Writes a Parquet file with DuckDB, atomically (temporary file, then rename).
 *
 * @example
 * ```ts
 * const rows = await new ParquetWriter({ path: "outputs/predictions.parquet" }).write(db, "(SELECT 1 AS x)");
 * ```
 */
export class ParquetWriter implements Writer {
  readonly path: string;

  /** @param options - `path` of the file to write */
  constructor(options: { path: string }) {
    this.path = options.path;
  }

  /** @inheritdoc */
  async write(db: Database, query: string): Promise<number> {
    return writeAtomically(this.path, async (temp) => {
      const rows = await db.rows(
        `COPY ${query} TO ${quotedString(temp)} (FORMAT parquet, COMPRESSION snappy)`,
      );
      return Number(rows[0]?.Count ?? 0);
    });
  }
}
