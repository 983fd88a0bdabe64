import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { duckdb } from "../packages.js";
import { ownedFolder, sweepDeadOwned, track } from "../scratch.js";

/**
 * How much memory DuckDB may hold before it spills to its temporary folder (`MLBATCH_DUCKDB_MEMORY_LIMIT`
 * overrides it, in DuckDB's notation: "512MB", "2GB").
 */
const MEMORY_LIMIT = process.env.MLBATCH_DUCKDB_MEMORY_LIMIT ?? "256MB";

/** The instance a database and its forks share, and every connection made to it. */
interface Shared {
  readonly instance: DuckDBInstance;
  readonly spill: string;
  readonly forget: () => void;
  readonly connections: Set<DuckDBConnection>;
  interrupted: boolean;
  /** The folder of local copies of remote inputs, once made (see {@link Database.scratch}). */
  scratch?: { readonly path: string; readonly forget: () => void };
}

/**
 * An in-memory DuckDB database and one connection, owned by a job for its lifetime. Readers, the schema
 * check and writers run their SQL on it; `close()` releases both.
 *
 * @example
 * ```ts
 * const db = await Database.create();
 * try { await db.run("SELECT 42"); } finally { db.close(); }
 * ```
 */
export class Database {
  private constructor(
    private readonly shared: Shared,
    /** The connection to run SQL on. */
    readonly connection: DuckDBConnection,
    private readonly owner: boolean,
  ) {}

  /** Opens a new in-memory database. */
  static async create(): Promise<Database> {
    // Insertion order is what makes "one output row per input row, in input order" hold. A memory limit,
    // a private spill folder and no cache of input files keep memory flat however many rows the job reads
    // (measured: with DuckDB's external file cache, peak RSS grew by the input file's size).
    // DuckDB makes the spill folder only when it spills; one named after this process, so that a later
    // run removes it if this one is killed.
    sweepDeadOwned(tmpdir(), SPILL_PREFIX);
    const spill = ownedFolder(tmpdir(), SPILL_PREFIX);
    const forget = track(spill);
    const instance = await duckdb.DuckDBInstance.create(":memory:", {
      preserve_insertion_order: "true",
      memory_limit: MEMORY_LIMIT,
      temp_directory: spill,
      enable_external_file_cache: "false",
    });
    const connection = await instance.connect();
    const shared = { instance, spill, forget, connections: new Set([connection]), interrupted: false };
    return new Database(shared, connection, true);
  }

  /**
   * Opens another connection to the same database, closed with it. A connection runs one statement at a
   * time: an appender flushing on the connection that streams a query would end that query's stream.
   */
  async connect(): Promise<DuckDBConnection> {
    const connection = await this.shared.instance.connect();
    this.shared.connections.add(connection);
    return connection;
  }

  /**
   * The same database on a connection of its own (see {@link Database.connect}), e.g. to write while
   * another connection streams the inputs. Closing it closes only its connection; it is closed with the
   * database and interrupted with it.
   */
  async fork(): Promise<Database> {
    return new Database(this.shared, await this.connect(), false);
  }

  /**
   * A folder of this database's own (shared with its forks) for local copies of remote inputs, made on
   * first use and removed, with all it holds, when the database closes: a copy lives as long as the
   * queries that read it.
   */
  scratch(): string {
    if (this.shared.scratch === undefined) {
      sweepDeadOwned(tmpdir(), SCRATCH_PREFIX);
      const path = ownedFolder(tmpdir(), SCRATCH_PREFIX);
      mkdirSync(path, { recursive: true });
      this.shared.scratch = { path, forget: track(path) };
    }
    return this.shared.scratch.path;
  }

  /**
   * Runs `work` with DuckDB's threads set to `threads` (for the whole database), then sets them back. The
   * predict step streams its inputs on one thread: the model's threads take the cores, and a stream reads
   * as fast on one (Parquet, 10M rows x 15 columns: 1.38 s on one thread, 1.53 s on two) while the
   * second thread's work took them from the model (docs/benchmarks.md).
   */
  async withThreads<T>(threads: number, work: () => Promise<T>): Promise<T> {
    const [setting] = await this.rows("SELECT current_setting('threads') AS threads");
    const before = Number(setting?.threads);
    await this.run(`SET threads = ${Math.max(1, Math.floor(threads))}`);
    try {
      return await work();
    } finally {
      // A database interrupted (the job stopping) refuses statements: its threads no longer matter.
      if (Number.isInteger(before) && before > 0)
        await this.run(`SET threads = ${before}`).catch(() => undefined);
    }
  }

  /** Runs a statement and discards its result. */
  async run(sql: string): Promise<void> {
    this.checkInterrupted();
    await this.connection.run(sql);
  }

  /** Runs a query that returns few rows and gives them as JS objects (never use it on data rows). */
  async rows(sql: string): Promise<Record<string, unknown>[]> {
    this.checkInterrupted();
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  /** Closes the connection, and for the database (not a fork) every other one and the database. */
  close(): void {
    const { connections, instance, spill, forget } = this.shared;
    if (!this.owner) {
      if (connections.delete(this.connection)) this.connection.closeSync();
      return;
    }
    for (const connection of connections) connection.closeSync();
    connections.clear();
    instance.closeSync();
    rmSync(spill, { recursive: true, force: true });
    forget();
    const { scratch } = this.shared;
    if (scratch !== undefined) {
      rmSync(scratch.path, { recursive: true, force: true });
      scratch.forget();
    }
  }

  /**
   * Interrupts the statement running on any of the database's connections (it then fails), and refuses
   * every later one: a job stopping mid-write runs nothing more.
   */
  interrupt(): void {
    this.shared.interrupted = true;
    for (const connection of this.shared.connections) connection.interrupt();
  }

  private checkInterrupted(): void {
    if (this.shared.interrupted) throw new Error("the database was interrupted: the job is stopping");
  }
}

const SPILL_PREFIX = "mlbatch-duckdb";
const SCRATCH_PREFIX = "mlbatch-spool";
