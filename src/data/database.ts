import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";

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
    private readonly instance: DuckDBInstance,
    /** The connection to run SQL on. */
    readonly connection: DuckDBConnection,
  ) {}

  /** Opens a new in-memory database. */
  static async create(): Promise<Database> {
    // Insertion order is what makes "one output row per input row, in input order" hold.
    const instance = await DuckDBInstance.create(":memory:", { preserve_insertion_order: "true" });
    return new Database(instance, await instance.connect());
  }

  /** Runs a statement and discards its result. */
  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  /** Runs a query that returns few rows and gives them as JS objects (never use it on data rows). */
  async rows(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  /** Closes the connection and the database. */
  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
