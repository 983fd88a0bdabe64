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
import type { OpenOptions } from "./reader.js";
import { columnsOption, cutsIntoPieces, openTextParts } from "./text-parts.js";

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

  /**
   * @inheritdoc
   * Objects on an object store are read piece by piece (see {@link openTextParts}), unless `wholeFiles`.
   */
  async open(db: Database, options: OpenOptions = {}): Promise<Source> {
    const o = this.config;
    const found = await inputFiles(db, this.path, CSV_EXTENSIONS);
    const settings = [
      `delim = ${quotedString(o.delimiter)}`,
      `quote = ${quotedString(o.quote)}`,
      // Default: the quote itself, so a doubled quote is a quote.
      `escape = ${quotedString(o.escape ?? o.quote)}`,
      `nullstr = [${o.null_strings.map(quotedString).join(", ")}]`,
      "allow_quoted_nulls = false",
    ].join(", ");
    let types = "";
    if (o.types !== undefined && Object.keys(o.types).length > 0) {
      const given = Object.entries(o.types).map(
        ([name, type]) => `${quotedString(name)}: ${quotedString(type)}`,
      );
      types = `, types = {${given.join(", ")}}`;
    }
    const hive = hiveOption(found, o.hive_partitioning);
    if (!options.wholeFiles && cutsIntoPieces(found.files) && singleByte(o.quote) && singleByte(o.escape)) {
      const format = {
        quote: o.quote.charCodeAt(0),
        escape: (o.escape ?? o.quote).charCodeAt(0),
        header: o.header,
      };
      // What DuckDB's sniffer finds in the first piece, as it would in the file's first rows: every piece
      // is read with it (a piece starting inside the data would be sniffed otherwise, and wrongly).
      let skip = 0;
      const parted = await openTextParts(
        db,
        found.files,
        format,
        {
          table: (path, { header, columns, hive: partitions }) => {
            const read =
              columns === undefined
                ? types
                : `, auto_detect = false${header && skip > 0 ? `, skip = ${skip}` : ""}${columns}`;
            return `read_csv(${fileList([path])}, header = ${header}, ${settings}${read}${partitions})`;
          },
          columns: async (own, path, detected) => {
            const [dialect] = await own.rows(
              `SELECT NewLineDelimiter AS newline, Comment AS comment, SkipRows AS skip, DateFormat AS date, TimestampFormat AS timestamp ` +
                `FROM sniff_csv(${quotedString(path)}, header = ${o.header}, ${settings}${types})`,
            );
            skip = Number(dialect?.skip ?? 0);
            const sniffed = [`new_line = ${quotedString(String(dialect?.newline ?? "\\n"))}`];
            if (typeof dialect?.comment === "string" && dialect.comment.length === 1) {
              sniffed.push(`comment = ${quotedString(dialect.comment)}`);
            }
            if (typeof dialect?.date === "string" && dialect.date !== "")
              sniffed.push(`dateformat = ${quotedString(dialect.date)}`);
            if (typeof dialect?.timestamp === "string" && dialect.timestamp !== "") {
              sniffed.push(`timestampformat = ${quotedString(dialect.timestamp)}`);
            }
            return `, ${sniffed.join(", ")}${columnsOption(detected)}`;
          },
          errorText: (text) => {
            const column = /Error when converting column "(.*)"\./.exec(text)?.[1];
            return column !== undefined && o.types?.[column] !== undefined
              ? text.replaceAll("auto-detected", "set")
              : text;
          },
          diagnose: (own, path) =>
            firstRejectedLine(
              own,
              (extra) => `read_csv(${fileList([path])}, header = ${o.header}, ${settings}${types}${extra})`,
            ),
        },
        { path: o.path, columns: o.columns, limit: o.limit },
        hive,
      );
      if (parted !== undefined) return parted;
    }
    const files = await localFiles(db, found.files);
    const read = (paths: readonly string[], extra: string) =>
      `read_csv(${fileList(paths)}, header = ${o.header}, ${settings}${types}${extra})`;
    return openTable(db, read(files, hive), {
      path: o.path,
      columns: o.columns,
      limit: o.limit,
      files,
      // Started now, it runs while DuckDB reads the files; the data are trusted once it is done.
      compressed: CompressedFiles.check(files),
      diagnose: (file) => firstRejectedLine(db, (extra) => read([file], extra)),
    });
  }
}

/** True for an ASCII character (or none): records are cut by bytes. */
function singleByte(char: string | undefined): boolean {
  return char === undefined || (char.length === 1 && char.charCodeAt(0) < 128);
}
