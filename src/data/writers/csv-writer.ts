import * as z from "zod";
import { configOf, type OptionsOf } from "../options.js";
import { quotedString } from "../sql.js";
import { type CopyFormat, FILE_WRITER_FIELDS, FileWriter } from "./files.js";

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

/** The options of {@link CsvWriter}: its config's fields, camelCase (`maxRowsPerFile`). */
export type CsvWriterOptions = OptionsOf<typeof CsvWriterConfig>;

/**
 * Writes CSV with DuckDB, atomically. Fields holding the delimiter, a quote or a line break are quoted
 * (quotes doubled); null is an empty field and an empty string is `""`, so both read back as they were.
 *
 * @example
 * ```ts
 * await new CsvWriter({ path: "outputs/predictions.csv", delimiter: ";" }).write(db, "(SELECT 1 AS x)");
 * ```
 */
export class CsvWriter extends FileWriter<CsvWriterConfig> {
  /**
   * @param options - `path`; `mode` (default `error`); `maxRowsPerFile`; `delimiter` (`,`); `header` (true)
   * @throws MlbatchError `E_CONFIG` for an invalid option
   */
  constructor(options: CsvWriterOptions) {
    super(configOf(CsvWriterConfig, "CsvWriter", options));
  }

  protected get format(): CopyFormat {
    const { delimiter, header } = this.config;
    const options = (withHeader: boolean) =>
      `FORMAT csv, HEADER ${withHeader}, DELIMITER ${quotedString(delimiter)}`;
    return { extension: ".csv", copy: options(header), next: options(false) };
  }
}
