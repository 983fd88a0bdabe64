import * as z from "zod";
import { MlbatchError, messageOf } from "../../errors.js";
import type { Database } from "../database.js";
import { configOf, type OptionsOf } from "../options.js";
import type { Source } from "../source.js";
import { quotedString } from "../sql.js";
import { FILE_READER_FIELDS, fileList, hiveOption, inputFiles, openTable } from "./files.js";
import type { Reader } from "./reader.js";

/** The file names a Parquet folder is read for. */
export const PARQUET_EXTENSIONS: readonly string[] = [".parquet"];

/** Config of {@link ParquetReader}. */
export const ParquetReaderConfig = z
  .strictObject({
    KIND: z.literal("ParquetReader"),
    ...FILE_READER_FIELDS,
  })
  .describe("Reads Parquet files (as written by pandas, pyarrow, Spark or DuckDB).");
export type ParquetReaderConfig = z.infer<typeof ParquetReaderConfig>;

/** The options of {@link ParquetReader}: its config's fields, camelCase (`hivePartitioning`). */
export type ParquetReaderOptions = OptionsOf<typeof ParquetReaderConfig>;

/**
 * Reads Parquet files with DuckDB, streamed chunk by chunk: one file, a glob, or a (Hive-partitioned)
 * folder. Columns pandas stored as the frame's index (e.g. `instant` in the bikes data) are reported as id
 * columns, so they are passed to the outputs as the reference's pandas index is.
 *
 * @example
 * ```ts
 * const source = await new ParquetReader({ path: "data/inputs_test.parquet" }).open(db);
 * const parts = await new ParquetReader({ path: "data/events/", columns: ["id", "x"] }).open(db);
 * ```
 */
export class ParquetReader implements Reader {
  readonly path: string;
  private readonly config: ParquetReaderConfig;

  /**
   * @param options - `path`: a file, glob or folder; `columns` to read only some; `limit`; `hivePartitioning`
   * @throws MlbatchError `E_CONFIG` for an invalid option
   */
  constructor(options: ParquetReaderOptions) {
    this.config = configOf(ParquetReaderConfig, "ParquetReader", options);
    this.path = this.config.path;
  }

  /** @inheritdoc */
  async open(db: Database): Promise<Source> {
    const found = await inputFiles(db, this.path, PARQUET_EXTENSIONS);
    const from = `read_parquet(${fileList(found.files)}${hiveOption(found, this.config.hive_partitioning)})`;
    let idColumns: string[];
    try {
      idColumns = await pandasIndexColumns(db, found.files[0]!);
    } catch (error) {
      throw new MlbatchError(
        "E_READ",
        `cannot read inputs "${this.path}": not a readable Parquet file (${messageOf(error)}). ` +
          "Check that inputs.path names Parquet files and that they were written completely.",
        { cause: error },
      );
    }
    const { path, columns, limit } = this.config;
    return openTable(db, from, { path, columns, limit, idColumns, files: found.files });
  }
}

/** The columns pandas wrote as the frame's index (RangeIndex entries are not columns and are skipped). */
async function pandasIndexColumns(db: Database, path: string): Promise<string[]> {
  const rows = await db.rows(
    `SELECT decode(value) AS value FROM parquet_kv_metadata(${quotedString(path)}) WHERE decode(key) = 'pandas'`,
  );
  const text = rows[0]?.value;
  if (typeof text !== "string") return [];
  const meta = JSON.parse(text) as { index_columns?: unknown[] };
  return (meta.index_columns ?? []).filter((c): c is string => typeof c === "string");
}
