/**
 * What every file reader shares: the config fields `path`, `columns`, `limit`, `hive_partitioning`; how a
 * path (a file, a glob or a folder) becomes a sorted list of files; opening the files as a {@link Source}.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod";
import { MlbatchError, messageOf } from "../../errors.js";
import type { Database } from "../database.js";
import { objectInputFiles } from "../object-store/inputs.js";
import { isObjectUri } from "../object-store/uri.js";
import { Source, type SourceOptions } from "../source.js";
import { identifierList, quotedString } from "../sql.js";

/** The config fields every file reader has. */
export const FILE_READER_FIELDS = {
  path: z
    .string()
    .min(1)
    .describe(
      "A file, a glob (data/*.parquet, data/**/part-*.csv) or a folder (every matching file under it, " +
        "Hive partitions as columns); relative to the working directory. Files are read in path order.",
    ),
  columns: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe("Read only these columns, in this order. Default: every column."),
  limit: z.int().positive().optional().describe("Read only the first `limit` rows."),
  hive_partitioning: z
    .boolean()
    .optional()
    .describe(
      "Read `key=value` folder names as columns. Default: on for a folder, else on when the paths have " +
        "such folders.",
    ),
} as const;

/** DuckDB types a reader can be told a column has. */
export const ColumnTypeName = z.enum([
  "BOOLEAN",
  "TINYINT",
  "SMALLINT",
  "INTEGER",
  "BIGINT",
  "UTINYINT",
  "USMALLINT",
  "UINTEGER",
  "UBIGINT",
  "FLOAT",
  "DOUBLE",
  "VARCHAR",
  "DATE",
  "TIME",
  "TIMESTAMP",
  "TIMESTAMPTZ",
]);
export type ColumnTypeName = z.infer<typeof ColumnTypeName>;

/** `types`: explicit DuckDB types of some columns (the others are detected). */
export const ColumnTypes = z
  .record(z.string().min(1), ColumnTypeName)
  .describe("Types of some columns (e.g. {hr: BIGINT, dteday: VARCHAR}); the others are detected.");

/** What {@link openTable} opens: the input as named, and which of its columns and rows. */
export interface TableOptions {
  readonly path: string;
  readonly columns?: readonly string[] | undefined;
  readonly limit?: number | undefined;
}

/** The files a reader's path names, sorted, and whether the path is a folder. */
export interface InputFiles {
  readonly files: readonly string[];
  readonly folder: boolean;
}

const GLOB = /[*?[]/;

/**
 * Resolves a reader's path (`s3://` ones in object-store/inputs.ts): a glob to the files it matches, a folder to the files under it (at any depth)
 * whose names end with one of `extensions` and do not start with `.` or `_`, a file to itself. Files are sorted by path (code-unit order),
 * so rows come in the same order on every run.
 *
 * @throws MlbatchError `E_READ` when the path does not exist or matches no file
 */
export async function inputFiles(
  db: Database,
  path: string,
  extensions: readonly string[],
): Promise<InputFiles> {
  if (isObjectUri(path)) return objectInputFiles(path, extensions);
  if (GLOB.test(path)) {
    const rows = await db
      .rows(`SELECT file FROM glob(${quotedString(path)})`)
      .catch((error: unknown) => fail(path, messageOf(error), error));
    const files = rows.map((row) => String(row.file)).sort(byPath);
    if (files.length === 0) fail(path, "no file matches this glob");
    return { files, folder: false };
  }
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : messageOf(error);
    return fail(path, reason, error);
  }
  if (info.isFile()) return { files: [path], folder: false };
  if (!info.isDirectory()) fail(path, "it is not a file or a folder");
  const files = (await filesUnder(path))
    .filter((file) => extensions.some((ext) => file.toLowerCase().endsWith(ext)))
    .sort(byPath);
  if (files.length === 0) fail(path, `the folder has no ${extensions.join(" or ")} file`);
  return { files, folder: true };
}

/**
 * The files under a folder, at any depth, through links to folders (an output mlbatch published is a
 * link), skipping hidden and underscore names: side files (_SUCCESS, .crc) and folders (a writer's
 * temporary parts, Spark's _temporary, a sharded run's staging).
 */
async function filesUnder(folder: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    if (/^[._]/.test(entry.name)) continue;
    const path = join(folder, entry.name);
    const info = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
    if (info?.isDirectory()) files.push(...(await filesUnder(path)));
    else if (info?.isFile()) files.push(path);
  }
  return files;
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fail(path: string, reason: string, cause?: unknown): never {
  throw new MlbatchError(
    "E_READ",
    `cannot read inputs "${path}": ${reason} (working directory: ${process.cwd()}). ` +
      "Check inputs.path: relative paths are relative to the working directory.",
    { cause },
  );
}

/** `['a', 'b']`: the files as a DuckDB list literal. */
export function fileList(files: readonly string[]): string {
  return `[${files.map(quotedString).join(", ")}]`;
}

/** `, hive_partitioning = true` when it is on (always for a folder), `false` when turned off, else nothing. */
export function hiveOption(found: InputFiles, hivePartitioning: boolean | undefined): string {
  const hive = hivePartitioning ?? (found.folder ? true : undefined);
  return hive === undefined ? "" : `, hive_partitioning = ${hive}`;
}

/**
 * Opens a table function over the files as a source, keeping only `columns` when given; `files`,
 * `compressed` and `diagnose` are passed to the source (see {@link SourceOptions}).
 *
 * @throws MlbatchError `E_READ` when DuckDB cannot read the files or a requested column does not exist
 */
export async function openTable(
  db: Database,
  from: string,
  options: TableOptions & Pick<SourceOptions, "idColumns" | "files" | "compressed" | "diagnose" | "parts">,
): Promise<Source> {
  const { path, columns, limit, idColumns = [], files, compressed, diagnose, parts } = options;
  const all = await Source.open(db, {
    from,
    label: path,
    limit,
    idColumns,
    files,
    compressed,
    diagnose,
    parts,
  });
  if (columns === undefined) return all;
  const missing = columns.filter((c) => all.typeOf(c) === undefined);
  if (missing.length > 0) {
    throw new MlbatchError(
      "E_READ",
      `cannot read inputs "${path}": inputs.columns names column(s) ${missing.map((m) => `"${m}"`).join(", ")} ` +
        `that the input does not have (columns: ${all.columns.map((c) => c.name).join(", ")}). Fix inputs.columns.`,
    );
  }
  return Source.open(db, {
    from: `(SELECT ${identifierList(columns)} FROM ${from})`,
    label: path,
    limit,
    idColumns: idColumns.filter((id) => columns.includes(id)),
    files,
    compressed,
    diagnose,
    parts,
  });
}
