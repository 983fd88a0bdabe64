/**
 * How each reader KIND is cut into work units, and how one unit is opened as a {@link Source}: a Parquet
 * file by row group (rows selected by `file_row_number`, which DuckDB pushes down to the row groups), a
 * CSV or JSON Lines file whole.
 */

import type { Database } from "../data/database.js";
import { CSV_EXTENSIONS } from "../data/readers/csv-reader.js";
import { fileList, type InputFiles, openTable } from "../data/readers/files.js";
import { createReader, type ReaderKind } from "../data/readers/index.js";
import { JSON_LINES_EXTENSIONS } from "../data/readers/json-lines-reader.js";
import { PARQUET_EXTENSIONS } from "../data/readers/parquet-reader.js";
import type { Source } from "../data/source.js";
import { quotedString } from "../data/sql.js";

/** A unit's rows in its file: `[firstRow, firstRow + rows)`, or the whole file when `rowGroup` is null. */
export interface UnitRows {
  readonly file: string;
  readonly rowGroup: number | null;
  readonly firstRow: number;
  readonly rows: number;
}

interface UnitReader {
  /** The file names a folder is read for. */
  readonly extensions: readonly string[];
  /** Whether files are cut by row group (else one unit per file). */
  readonly rowGroups: boolean;
  /** Opens one unit of the inputs `config` describes. */
  open(db: Database, config: ReaderKind, unit: UnitRows, hive: boolean | undefined): Promise<Source>;
}

const WHOLE_FILE = (db: Database, config: ReaderKind, unit: UnitRows, hive: boolean | undefined) =>
  createReader({ ...config, path: unit.file, hive_partitioning: hive }).open(db);

const UNIT_READERS: { readonly [K in ReaderKind["KIND"]]: UnitReader } = {
  ParquetReader: {
    extensions: PARQUET_EXTENSIONS,
    rowGroups: true,
    open: (db, config, unit, hive) => {
      const options = `file_row_number = true${hive === undefined ? "" : `, hive_partitioning = ${hive}`}`;
      const from =
        `(SELECT * EXCLUDE (file_row_number) FROM read_parquet(${fileList([unit.file])}, ${options}) ` +
        `WHERE file_row_number >= ${unit.firstRow} AND file_row_number < ${unit.firstRow + unit.rows})`;
      return openTable(db, from, { path: `${unit.file} rows ${unit.firstRow}..`, columns: config.columns });
    },
  },
  CsvReader: { extensions: CSV_EXTENSIONS, rowGroups: false, open: WHOLE_FILE },
  JsonLinesReader: { extensions: JSON_LINES_EXTENSIONS, rowGroups: false, open: WHOLE_FILE },
};

/** How the inputs of `config` are cut: their file extensions and whether by row group. */
export function unitReader(config: ReaderKind): Pick<UnitReader, "extensions" | "rowGroups"> {
  return UNIT_READERS[config.KIND];
}

/**
 * Opens one work unit as a source with the columns the whole input has (hive partition columns too,
 * when the input is a folder).
 *
 * @param found - the input's files, as listed when planning (`folder` decides hive partitioning)
 * @throws MlbatchError `E_READ`
 */
export function openUnit(
  db: Database,
  config: ReaderKind,
  unit: UnitRows,
  found: Pick<InputFiles, "folder">,
): Promise<Source> {
  const hive = config.hive_partitioning ?? (found.folder ? true : undefined);
  return UNIT_READERS[config.KIND].open(db, config, unit, hive);
}

/** The row counts of a Parquet file's row groups, in order. */
export async function rowGroups(db: Database, file: string): Promise<number[]> {
  const rows = await db.rows(
    `SELECT row_group_id, any_value(row_group_num_rows)::BIGINT AS rows FROM parquet_metadata(${quotedString(file)}) ` +
      "GROUP BY row_group_id ORDER BY row_group_id",
  );
  return rows.map((row) => Number(row.rows));
}

/** The row count of a whole file, as its reader reads it. */
export async function fileRows(db: Database, config: ReaderKind, file: string, folder: boolean) {
  const source = await openUnit(db, config, { file, rowGroup: null, firstRow: 0, rows: 0 }, { folder });
  const [count] = await db.rows(`SELECT count(*)::BIGINT AS n FROM ${source.query()}`);
  // A cut compressed file counts short: the plan must not record fewer rows than the file holds.
  await source.verify();
  return Number(count?.n ?? 0);
}
