/**
 * What every file reader does the same way: cut its input into work units for sharded runs (files
 * whole, unless the format has row groups) and open one of them.
 */
import type { Database } from "../database.js";
import { releaseLocalFile } from "../object-store/inputs.js";
import { optionsOf } from "../options.js";
import type { Source } from "../source.js";
import { inputFiles } from "./files.js";
import type { InputCut, InputUnit, OpenOptions, Reader } from "./reader.js";

/** The config fields {@link FileReader} reads. */
interface FileReaderConfig {
  readonly KIND: string;
  readonly path: string;
  readonly hive_partitioning?: boolean | undefined;
}

/**
 * A reader of files: a file, a glob or a folder of files with the format's extensions, configured by its
 * parsed config. A format with row groups also says how to cut a file.
 */
export abstract class FileReader<C extends FileReaderConfig = FileReaderConfig> implements Reader {
  readonly path: string;

  /**
   * @param config - the reader's config, parsed by its schema
   * @param extensions - the file names a folder is read for
   */
  constructor(
    protected readonly config: C,
    private readonly extensions: readonly string[],
  ) {
    this.path = config.path;
  }

  /** @inheritdoc */
  abstract open(db: Database, options?: OpenOptions): Promise<Source>;

  /** A reader of one file of the input, with the same settings and Hive partitioning as given. */
  protected reading(file: string, hive: boolean | undefined): Reader {
    const Class = this.constructor as new (options: object) => Reader;
    return new Class({ ...optionsOf(this.config), path: file, hivePartitioning: hive });
  }

  /** @inheritdoc */
  describe(db: Database): Promise<Source> {
    return this.open(db);
  }

  /** @inheritdoc */
  async cut(db: Database): Promise<InputCut> {
    const found = await inputFiles(db, this.path, this.extensions);
    const files = [];
    for (const path of found.files) {
      files.push({ path, units: await this.units(db, path, found.folder) });
      // An object's local copy goes once it is cut: planning spools one input file at a time.
      await releaseLocalFile(db, path);
    }
    return { folder: found.folder, files };
  }

  /** @inheritdoc */
  openUnit(db: Database, unit: InputUnit, folder: boolean): Promise<Source> {
    return this.reading(unit.file, this.hive(folder)).open(db);
  }

  /** The units of one file: the whole file (its rows counted as this reader reads them). */
  protected async units(db: Database, file: string, folder: boolean): Promise<InputUnit[]> {
    const source = await this.openUnit(db, { file, rowGroup: null, firstRow: 0, rows: 0 }, folder);
    // Part by part: an object is counted piece by piece, never held whole.
    const counts = await source.passes(async (part) => {
      const [count] = await db
        .rows(`SELECT count(*)::BIGINT AS n FROM ${part()}`)
        .catch(async (error: unknown) => {
          throw await source.readFailure(error);
        });
      return Number(count?.n ?? 0);
    });
    // A cut compressed file counts short: the plan must not record fewer rows than the file holds.
    await source.verify();
    return [{ file, rowGroup: null, firstRow: 0, rows: counts.reduce((sum, n) => sum + n, 0) }];
  }

  /** Hive partitioning of a unit's file: as configured, else on when the input is a folder. */
  protected hive(folder: boolean): boolean | undefined {
    return this.config.hive_partitioning ?? (folder ? true : undefined);
  }
}
