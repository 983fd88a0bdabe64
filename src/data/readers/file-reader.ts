/**
 * What every file reader does the same way: cut its input into work units for sharded runs (files
 * whole, unless the format has row groups) and open one of them.
 */
import type { Database } from "../database.js";
import type { Source } from "../source.js";
import { inputFiles } from "./files.js";
import type { InputCut, InputUnit, Reader } from "./reader.js";

/** The config fields {@link FileReader} reads. */
interface FileReaderConfig {
  readonly path: string;
  readonly hive_partitioning?: boolean | undefined;
}

/**
 * A reader of files: a file, a glob or a folder of files with the format's extensions. A subclass says
 * how to read one file with the same settings; a format with row groups also says how to cut a file.
 */
export abstract class FileReader implements Reader {
  readonly path: string;

  /** @param file - the config's fields every file reader has */
  constructor(private readonly file: FileReaderConfig) {
    this.path = file.path;
  }

  /** The file names a folder is read for. */
  protected abstract get extensions(): readonly string[];

  /** A reader of one file of the input with the same settings, Hive partitioning as given. */
  protected abstract reading(file: string, hive: boolean | undefined): Reader;

  /** @inheritdoc */
  abstract open(db: Database): Promise<Source>;

  /** @inheritdoc */
  async cut(db: Database): Promise<InputCut> {
    const found = await inputFiles(db, this.path, this.extensions);
    const files = [];
    for (const path of found.files) files.push({ path, units: await this.units(db, path, found.folder) });
    return { folder: found.folder, files };
  }

  /** @inheritdoc */
  openUnit(db: Database, unit: InputUnit, folder: boolean): Promise<Source> {
    return this.reading(unit.file, this.hive(folder)).open(db);
  }

  /** The units of one file: the whole file (its rows counted as this reader reads them). */
  protected async units(db: Database, file: string, folder: boolean): Promise<InputUnit[]> {
    const source = await this.openUnit(db, { file, rowGroup: null, firstRow: 0, rows: 0 }, folder);
    const [count] = await db.rows(`SELECT count(*)::BIGINT AS n FROM ${source.query()}`);
    // A cut compressed file counts short: the plan must not record fewer rows than the file holds.
    await source.verify();
    return [{ file, rowGroup: null, firstRow: 0, rows: Number(count?.n ?? 0) }];
  }

  /** Hive partitioning of a unit's file: as configured, else on when the input is a folder. */
  protected hive(folder: boolean): boolean | undefined {
    return this.file.hive_partitioning ?? (folder ? true : undefined);
  }
}
