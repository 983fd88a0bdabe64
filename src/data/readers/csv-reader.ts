import * as z from "zod";
import { CompressedFiles } from "../compressed-files.js";
import type { Database } from "../database.js";
import { localFiles } from "../object-store/inputs.js";
import { configOf, type OptionsOf } from "../options.js";
import type { Source } from "../source.js";
import { quotedString } from "../sql.js";
import { firstRejectedLine } from "./csv-diagnosis.js";
import { FileReader } from "./file-reader.js";
import { ColumnTypes, FILE_READER_FIELDS, fileList, hiveOption, inputFiles, openTable } from "./files.js";

/** The file names a CSV folder is read for. */
export const CSV_EXTENSIONS: readonly string[] = [".csv", ".csv.gz", ".tsv", ".tsv.gz"];

/** Config of {@link CsvReader}. */
export const CsvReaderConfig = z
  .strictObject({
    KIND: z.literal("CsvReader"),
    ...FILE_READER_FIELDS,
    delimiter: z.string().min(1).max(4).default(",").describe('Field separator, e.g. ";" or "\\t".'),
    header: z
      .boolean()
      .default(true)
      .describe("The first line names the columns; without header they are column0, column1, ..."),
    quote: z.string().length(1).default('"').describe("Quote character."),
    escape: z
      .string()
      .length(1)
      .optional()
      .describe("Escape character inside quoted fields. Default: the quote character (doubled quotes)."),
    null_strings: z
      .array(z.string())
      .default([""])
      .describe("Unquoted field values read as null. A quoted field is never null."),
    types: ColumnTypes.optional(),
  })
  .describe("Reads CSV files; column types are detected, or given with `types`.");
export type CsvReaderConfig = z.infer<typeof CsvReaderConfig>;

/** The options of {@link CsvReader}: its config's fields, camelCase (`nullStrings`). */
export type CsvReaderOptions = OptionsOf<typeof CsvReaderConfig>;

/**
 * Reads CSV files with DuckDB, streamed: one file, a glob, or a (Hive-partitioned) folder of `.csv` (or
 * `.csv.gz`) files. A UTF-8 byte order mark and CRLF line ends are handled; `""` is an empty string and an
 * empty unquoted field is null. No column is taken as an id column unless the job names it. A compressed
 * file (`.gz`, `.zst`) is checked whole while it is read: a truncated or corrupt one fails the read.
 *
 * @example
 * ```ts
 * const source = await new CsvReader({ path: "data/hour.csv", types: { dteday: "VARCHAR" } }).open(db);
 * ```
 */
export class CsvReader extends FileReader<CsvReaderConfig> {
  /**
   * @param options - the files, and how to parse them (delimiter, header, quote, escape, nulls, types)
   * @throws MlbatchError `E_CONFIG` for an invalid option
   */
  constructor(options: CsvReaderOptions) {
    super(configOf(CsvReaderConfig, "CsvReader", options), CSV_EXTENSIONS);
  }

  /** @inheritdoc */
  async open(db: Database): Promise<Source> {
    const o = this.config;
    const found = await inputFiles(db, this.path, CSV_EXTENSIONS);
    const settings = [
      `delim = ${quotedString(o.delimiter)}`,
      `header = ${o.header}`,
      `quote = ${quotedString(o.quote)}`,
      // Default: the quote itself, so a doubled quote is a quote.
      `escape = ${quotedString(o.escape ?? o.quote)}`,
      `nullstr = [${o.null_strings.map(quotedString).join(", ")}]`,
      "allow_quoted_nulls = false",
    ];
    if (o.types !== undefined && Object.keys(o.types).length > 0) {
      const types = Object.entries(o.types).map(
        ([name, type]) => `${quotedString(name)}: ${quotedString(type)}`,
      );
      settings.push(`types = {${types.join(", ")}}`);
    }
    const files = await localFiles(db, found.files);
    const read = (paths: readonly string[], options: string) =>
      `read_csv(${fileList(paths)}, ${settings.join(", ")}${options})`;
    return openTable(db, read(files, hiveOption(found, o.hive_partitioning)), {
      path: o.path,
      columns: o.columns,
      limit: o.limit,
      files,
      // Started now, it runs while DuckDB reads the files; the data are trusted once it is done.
      compressed: CompressedFiles.check(files),
      diagnose: (file) => firstRejectedLine(db, (options) => read([file], options)),
    });
  }
}
