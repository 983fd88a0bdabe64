import { randomBytes } from "node:crypto";
import * as z from "zod";
import { MlbatchError, messageOf } from "../../errors.js";
import type { Database } from "../database.js";
import {
  inParallel,
  localFiles,
  localParquetPart,
  type ObjectVersion,
  parquetLayout,
  parquetPartPath,
  releaseParquetPart,
} from "../object-store/inputs.js";
import { ObjectStore } from "../object-store/object-store.js";
import { isObjectUri } from "../object-store/uri.js";
import { configOf, type OptionsOf } from "../options.js";
import type { Source } from "../source.js";
import type { SourceParts } from "../source-parts.js";
import { quotedIdentifier, quotedString } from "../sql.js";
import { FileReader } from "./file-reader.js";
import { FILE_READER_FIELDS, fileList, hiveOption, type InputFiles, inputFiles, openTable } from "./files.js";
import type { InputUnit, OpenOptions } from "./reader.js";

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
export class ParquetReader extends FileReader<ParquetReaderConfig> {
  /**
   * @param options - `path`: a file, glob or folder; `columns` to read only some; `limit`; `hivePartitioning`
   * @throws MlbatchError `E_CONFIG` for an invalid option
   */
  constructor(options: ParquetReaderOptions) {
    super(configOf(ParquetReaderConfig, "ParquetReader", options), PARQUET_EXTENSIONS);
  }

  /**
   * @inheritdoc
   * An input on an object store is read row group by row group through ranged stand-ins (see
   * {@link partsOf}), unless `wholeFiles`.
   */
  async open(db: Database, options: OpenOptions = {}): Promise<Source> {
    const found = await inputFiles(db, this.path, PARQUET_EXTENSIONS);
    if (options.wholeFiles || !isObjectUri(found.files[0]!)) {
      return this.table(db, await localFiles(db, found.files), found);
    }
    return this.partsOf(db, found);
  }

  /**
   * The input's objects read part by part, one row group at a time: a stand-in of each row group is
   * fetched (ranged reads of the version headed now) when its turn comes, the next one meanwhile, and
   * removed once read, so the disk holds two row groups and the first file's footer, not the input.
   */
  private async partsOf(db: Database, found: InputFiles): Promise<Source> {
    const store = ObjectStore.fromEnvironment();
    const hive = this.hive(found.folder);
    const files = await inParallel(found.files, async (file) => {
      const version = await store.head(file);
      if (version === undefined)
        throw new MlbatchError(
          "E_READ",
          `cannot read inputs "${file}": the object went since it was listed. Run again.`,
        );
      const units = await this.units(db, file, found.folder, version);
      return { file, version: await parquetLayout(db, file, version), units };
    });
    const id = randomBytes(6).toString("hex");
    const parts = files.flatMap(({ file, version, units }) =>
      units
        .filter((unit) => unit.rows > 0 && unit.rowGroup !== null)
        .map((unit) => ({
          path: parquetPartPath(db, file, unit.rowGroup),
          table: rowGroupTable(parquetPartPath(db, file, unit.rowGroup), unit, hive),
          rows: unit.rows,
          fetch: () => localParquetPart(db, file, unit.rowGroup, version).then(() => unit.rows),
          release: () => releaseParquetPart(db, file, unit.rowGroup),
        })),
    );
    // The first file's footer stays: the columns, the pandas index and dtypes are read from it.
    const footer = parquetPartPath(db, files[0]!.file, null);
    for (const { file } of files.slice(1)) await releaseParquetPart(db, file, null);
    const token = quotedIdentifier(`__mlbatch_part_${id}`);
    const empty = quotedIdentifier(`__mlbatch_schema_${id}`);
    const columns = await db.rows(
      `DESCRIBE SELECT * FROM ${rowGroupTable(footer, { firstRow: 0, rows: 0 }, hive)}`,
    );
    await db.run(
      `CREATE TABLE ${empty} (${columns.map((c) => `${quotedIdentifier(String(c.column_name))} ${String(c.column_type)}`).join(", ")})`,
    );
    return this.table(db, [footer, ...parts.map((p) => p.path)], found, {
      from: token,
      parts: { token, empty, parts: () => parts },
    });
  }

  /**
   * Describes the input from its first file's footer: of an `s3://` object, a stand-in holding only the
   * footer, fetched by range (the columns and the pandas index are there; the other files are not read).
   */
  override async describe(db: Database): Promise<Source> {
    const found = await inputFiles(db, this.path, PARQUET_EXTENSIONS);
    return this.table(db, [await localParquetPart(db, found.files[0]!, null)], found);
  }

  /** The source over local files (copies or stand-ins of the input's files). */
  private async table(
    db: Database,
    files: readonly string[],
    found: InputFiles,
    parted?: { from: string; parts: SourceParts },
  ): Promise<Source> {
    const from =
      parted?.from ?? `read_parquet(${fileList(files)}${hiveOption(found, this.config.hive_partitioning)})`;
    let idColumns: string[];
    try {
      idColumns = await pandasIndexColumns(db, files[0]!);
    } catch (error) {
      throw new MlbatchError(
        "E_READ",
        `cannot read inputs "${this.path}": not a readable Parquet file (${messageOf(error)}). ` +
          "Check that inputs.path names Parquet files and that they were written completely.",
        { cause: error },
      );
    }
    const { path, columns, limit } = this.config;
    return openTable(db, from, { path, columns, limit, idColumns, files, parts: parted?.parts });
  }

  /**
   * Opens a row group's rows of its file, selected by `file_row_number` (which DuckDB pushes down to
   * the row groups), with the columns of the whole input.
   */
  override async openUnit(db: Database, unit: InputUnit, folder: boolean): Promise<Source> {
    if (unit.rowGroup === null) return super.openUnit(db, unit, folder);
    const from = rowGroupTable(await localParquetPart(db, unit.file, unit.rowGroup), unit, this.hive(folder));
    return openTable(db, from, {
      path: `${unit.file} rows ${unit.firstRow}..`,
      columns: this.config.columns,
    });
  }

  /** One unit per row group (a file without row groups is one empty unit). */
  protected override async units(
    db: Database,
    file: string,
    _folder?: boolean,
    version?: ObjectVersion,
  ): Promise<InputUnit[]> {
    let rows: Record<string, unknown>[];
    try {
      rows = await db.rows(
        "SELECT row_group_id, any_value(row_group_num_rows)::BIGINT AS rows " +
          `FROM parquet_metadata(${quotedString(await localParquetPart(db, file, null, version))}) GROUP BY row_group_id ORDER BY row_group_id`,
      );
    } catch (error) {
      throw new MlbatchError(
        "E_READ",
        `cannot read inputs "${file}": not a readable Parquet file (${messageOf(error)})`,
        { cause: error },
      );
    }
    if (rows.length === 0) return [{ file, rowGroup: 0, firstRow: 0, rows: 0 }];
    let first = 0;
    return rows.map((row, group) => {
      const unit = { file, rowGroup: group, firstRow: first, rows: Number(row.rows) };
      first += unit.rows;
      return unit;
    });
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

/**
 * The rows `[firstRow, firstRow + rows)` of a Parquet file (a row group's), selected by
 * `file_row_number`, which DuckDB pushes down to the row groups: it reads no other.
 */
function rowGroupTable(
  path: string,
  unit: Pick<InputUnit, "firstRow" | "rows">,
  hive: boolean | undefined,
): string {
  const options = `file_row_number = true${hive === undefined ? "" : `, hive_partitioning = ${hive}`}`;
  return (
    `(SELECT * EXCLUDE (file_row_number) FROM read_parquet(${fileList([path])}, ${options}) ` +
    `WHERE file_row_number >= ${unit.firstRow} AND file_row_number < ${unit.firstRow + unit.rows})`
  );
}
