import * as z from "zod";
import type { Database } from "../database.js";
import { quotedString } from "../sql.js";
import { checkTarget, type StagedOutput } from "./atomic.js";
import { FILE_WRITER_FIELDS, type FileWriterOptions, stageCopy } from "./files.js";
import type { Writer } from "./writer.js";

/** Config of {@link CsvWriter}. */
export const CsvWriterConfig = z
  .strictObject({
    KIND: z.literal("CsvWriter"),
    ...FILE_WRITER_FIELDS,
    delimiter: z.string().min(1).max(4).default(",").describe("Field separator."),
    header: z.boolean().default(true).describe("Write the column names as the first line."),
  })
  .describe('Writes CSV (UTF-8, LF line ends; null is an empty field, an empty string is "").');
export type CsvWriterConfig = z.infer<typeof CsvWriterConfig>;

/**
 * Writes CSV with DuckDB, atomically. Fields holding the delimiter, a quote or a line break are quoted
 * (quotes doubled); null is an empty field and an empty string is `""`, so both read back as they were.
 *
 * @example
 * ```ts
 * await new CsvWriter({ path: "outputs/predictions.csv", delimiter: ";" }).write(db, "(SELECT 1 AS x)");
 * ```
 */
export class CsvWriter implements Writer {
  readonly path: string;

  /** @param options - `path`; `mode` (default `error`); `maxRowsPerFile`; `delimiter` (`,`); `header` (true) */
  constructor(
    private readonly options: FileWriterOptions & {
      readonly delimiter?: string | undefined;
      readonly header?: boolean | undefined;
    },
  ) {
    this.path = options.path;
  }

  /** @inheritdoc */
  check(): Promise<void> {
    return checkTarget(this.path, this.options.mode ?? "error");
  }

  /** @inheritdoc */
  stage(db: Database, query: string): Promise<StagedOutput> {
    const { delimiter = ",", header = true } = this.options;
    return stageCopy(db, query, {
      ...this.options,
      extension: ".csv",
      copy: `FORMAT csv, HEADER ${header}, DELIMITER ${quotedString(delimiter)}`,
    });
  }

  /** @inheritdoc */
  async write(db: Database, query: string): Promise<number> {
    const staged = await this.stage(db, query);
    await staged.commit();
    return staged.rows;
  }
}
