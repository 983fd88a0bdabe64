import * as z from "zod";
import { MlbatchError } from "../../errors.js";
import { CompressedFiles } from "../compressed-files.js";
import type { Database } from "../database.js";
import { localFiles } from "../object-store/inputs.js";
import { configOf, type OptionsOf } from "../options.js";
import { Source } from "../source.js";
import { FileReader } from "./file-reader.js";
import { ColumnTypes, FILE_READER_FIELDS, fileList, hiveOption, inputFiles, openTable } from "./files.js";
import type { OpenOptions } from "./reader.js";
import { columnsOption, cutsIntoPieces, openTextParts } from "./text-parts.js";

/** The file names a JSON Lines folder is read for. */
export const JSON_LINES_EXTENSIONS: readonly string[] = [
  ".jsonl",
  ".ndjson",
  ".json",
  ".jsonl.gz",
  ".ndjson.gz",
  ".json.gz",
];

/** Config of {@link JsonLinesReader}. */
export const JsonLinesReaderConfig = z
  .strictObject({
    KIND: z.literal("JsonLinesReader"),
    ...FILE_READER_FIELDS,
    types: ColumnTypes.optional(),
  })
  .describe("Reads JSON Lines files (one JSON object per line); types are detected, or given with `types`.");
export type JsonLinesReaderConfig = z.infer<typeof JsonLinesReaderConfig>;

/** The options of {@link JsonLinesReader}: its config's fields, camelCase (`hivePartitioning`). */
export type JsonLinesReaderOptions = OptionsOf<typeof JsonLinesReaderConfig>;

/**
 * Reads JSON Lines files with DuckDB, streamed: one file, a glob, or a (Hive-partitioned) folder of
 * `.jsonl`, `.ndjson` or `.json` files (optionally `.gz`). Each line is one object; its keys are the
 * columns, a missing key is null. No column is taken as an id column unless the job names it. A compressed
 * file (`.gz`, `.zst`) is checked whole while it is read: a truncated or corrupt one fails the read.
 *
 * @example
 * ```ts
 * const source = await new JsonLinesReader({ path: "data/inputs.jsonl" }).open(db);
 * ```
 */
export class JsonLinesReader extends FileReader<JsonLinesReaderConfig> {
  /**
   * @param options - the files, the columns to read, a limit, and explicit `types`
   * @throws MlbatchError `E_CONFIG` for an invalid option
   */
  constructor(options: JsonLinesReaderOptions) {
    super(configOf(JsonLinesReaderConfig, "JsonLinesReader", options), JSON_LINES_EXTENSIONS);
  }

  /**
   * @inheritdoc
   * Objects on an object store are read piece by piece (see {@link openTextParts}), unless `wholeFiles`.
   */
  async open(db: Database, options: OpenOptions = {}): Promise<Source> {
    const o = this.config;
    const found = await inputFiles(db, this.path, JSON_LINES_EXTENSIONS);
    const hive = hiveOption(found, o.hive_partitioning);
    if (!options.wholeFiles && cutsIntoPieces(found.files)) {
      const parted = await openTextParts(
        db,
        found.files,
        {},
        {
          table: (path, { columns, hive: partitions }) =>
            `read_json(${fileList([path])}, format = 'newline_delimited'${columns ?? ""}${partitions})`,
          columns: async (_db, _path, detected) => {
            this.checkTypes(detected);
            return columnsOption(detected.map((c) => ({ name: c.name, type: o.types?.[c.name] ?? c.type })));
          },
        },
        { path: o.path, columns: o.columns, limit: o.limit },
        hive,
      );
      if (parted !== undefined) return parted;
    }
    const files = await localFiles(db, found.files);
    // Started now, it runs while DuckDB reads the files; the data are trusted once it is done.
    const compressed = CompressedFiles.check(files);
    const read = (settings: string) =>
      `read_json(${fileList(files)}, format = 'newline_delimited'${settings})`;
    let schema = "";
    if (o.types !== undefined && Object.keys(o.types).length > 0) {
      // Explicit types are given to the parser for every column (detected ones for the rest), so a value
      // of the wrong type fails the read with its line, as in CSV, instead of being turned to null.
      const from = read(", hive_partitioning = false");
      const detected = await Source.open(db, { from, label: this.path, files, compressed });
      this.checkTypes(detected.columns);
      schema = columnsOption(
        detected.columns.map((c) => ({ name: c.name, type: o.types?.[c.name] ?? c.type })),
      );
    }
    return openTable(db, read(`${schema}${hive}`), {
      path: o.path,
      columns: o.columns,
      limit: o.limit,
      files,
      compressed,
    });
  }

  /** Checks that the columns `types` names are among those detected. */
  private checkTypes(detected: readonly { name: string }[]): void {
    const unknown = Object.keys(this.config.types ?? {}).filter(
      (name) => !detected.some((c) => c.name === name),
    );
    if (unknown.length > 0) {
      throw new MlbatchError(
        "E_READ",
        `cannot read inputs "${this.path}": inputs.types names column(s) ${unknown.map((u) => `"${u}"`).join(", ")} ` +
          `that the input does not have (columns: ${detected.map((c) => c.name).join(", ")}). Fix inputs.types.`,
      );
    }
  }
}
