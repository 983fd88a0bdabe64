/** Local stores in a bad state: an alias to a deleted version, damaged pages, a lock held by another writer. */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, cpSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { openRegistry } from "../../src/registry/index.js";
import type { ModelReference } from "../../src/registry/model-uri.js";
import {
  BIKES,
  cli,
  copyStore,
  failure,
  INPUTS_TEST,
  ROOT,
  removeDir,
  reportedError,
  STORES,
  tempDir,
} from "../helpers.js";

const EXAMPLE = join(BIKES, "confs", "inference.yaml");

let dirs: string[] = [];
let lockers: ChildProcess[] = [];
afterEach(() => {
  for (const locker of lockers) locker.kill("SIGKILL");
  lockers = [];
  dirs.forEach(removeDir);
  dirs = [];
});

async function registryError(
  uri: string,
  ref: ModelReference,
  env: NodeJS.ProcessEnv = {},
): Promise<MlbatchError> {
  const registry = openRegistry(uri, { env });
  try {
    return await failure(registry.getModelVersion(ref));
  } finally {
    registry.close();
  }
}

/** A copy of the example's store (database and model files) in a new folder: its mlflow.db path. */
function exampleStore(): string {
  const dir = tempDir("mlbatch-store-fault-");
  dirs.push(dir);
  cpSync(join(BIKES, "mlflow.db"), join(dir, "mlflow.db"));
  cpSync(join(BIKES, "mlruns"), join(dir, "mlruns"), { recursive: true });
  return join(dir, "mlflow.db");
}

/** The CLI on the example, its registry and tracking at `db`, outputs in the store's folder. */
function runExample(db: string, env: NodeJS.ProcessEnv = {}) {
  const store = `sqlite:///${db}`;
  return cli(
    [
      "run",
      EXAMPLE,
      "-e",
      `job: {inputs: {path: '${INPUTS_TEST}'}, outputs: {path: '${db}.predictions.parquet'}, mlflow_service: {registry_uri: '${store}', tracking_uri: '${store}'}}`,
    ],
    { env },
  );
}

describe("an alias that points to a version the store does not hold (expected failures)", () => {
  function pointChampionAt(name: keyof typeof STORES, version: number): string {
    const copy = copyStore(name);
    dirs.push(copy);
    if (name.endsWith("sqlite")) {
      const db = new Sqlite(join(copy, "mlflow.db"));
      db.prepare(
        "UPDATE registered_model_aliases SET version = ? WHERE name = 'bikes' AND alias = 'Champion'",
      ).run(version);
      db.close();
      return `sqlite:///${join(copy, "mlflow.db")}`;
    }
    writeFileSync(join(copy, "mlruns", "models", "bikes", "aliases", "Champion"), `${version}`);
    return join(copy, "mlruns");
  }

  it.each(Object.keys(STORES) as (keyof typeof STORES)[])(
    "given %s with Champion pointing to deleted version 4, when resolved, then the error names the alias, its version, the versions and the aliases",
    async (name) => {
      const error = await registryError(pointChampionAt(name, 4), { name: "bikes", alias: "Champion" });
      expect(error.code).toBe("E_MODEL_NOT_FOUND");
      expect(error.message).toContain(
        'alias "Champion" of model "bikes" points to version 4, which does not exist (deleted); versions: 1, 2, 3; ' +
          "aliases: Challenger -> 1, Champion -> 4, Pickled -> 3. Point the alias at an existing version " +
          '(MlflowClient().set_registered_model_alias("bikes", "Champion", <version>)) or set job.alias_or_version to a version.',
      );
      expect(error.message).not.toContain("undefined");
    },
  );

  it.each(["mlflow3-sqlite", "mlflow2-file"] as const)(
    "given %s with Champion pointing to version 9, never registered, when resolved, then the error says it does not exist",
    async (name) => {
      const error = await registryError(pointChampionAt(name, 9), { name: "bikes", alias: "Champion" });
      expect(error.code).toBe("E_MODEL_NOT_FOUND");
      expect(error.message).toContain(
        'alias "Champion" of model "bikes" points to version 9, which does not exist; versions: 1, 2, 3;',
      );
    },
  );
});

describe("a damaged SQLite store (expected failures)", () => {
  /** A copy of the example's store with one page (1-based) overwritten, from `offset` in it. */
  function damaged(page: (db: Sqlite.Database) => number, offset = 0): string {
    const path = exampleStore();
    const db = new Sqlite(path, { readonly: true });
    const number = page(db);
    const size = db.pragma("page_size", { simple: true }) as number;
    db.close();
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(size - offset, 0xab), 0, size - offset, (number - 1) * size + offset);
    closeSync(fd);
    return path;
  }
  const rootOf = (table: string) => (db: Sqlite.Database) =>
    db.prepare("SELECT rootpage FROM sqlite_master WHERE name = ?").pluck().get(table) as number;

  it.each([
    ["its schema page (raised when opened)", () => damaged(() => 1, 100)],
    ["the model_versions table (raised by a query)", () => damaged(rootOf("model_versions"))],
  ])(
    "given a store with damaged pages in %s, when resolved, then E_REGISTRY names the file, says it is damaged and what to do",
    async (_, make) => {
      const path = make();
      const error = await (async () => {
        try {
          return await registryError(`sqlite:///${path}`, { name: "bikes", alias: "Champion" });
        } catch (error) {
          return error as MlbatchError; // raised by openRegistry
        }
      })();
      expect(error).toBeInstanceOf(MlbatchError);
      expect(error.code).toBe("E_REGISTRY");
      expect(error.message).toContain(
        `the MLflow database "${path}" is damaged (SQLite: database disk image is malformed)`,
      );
      expect(error.message).toContain(
        `Restore it from a backup, or recover what SQLite can still read into a new file: sqlite3 "${path}" ".recover"`,
      );
      expect(error.message).toContain("point mlflow_service.registry_uri to another MLflow store");
    },
  );

  it("given the CLI on a store with a damaged table, when run, then it fails with E_REGISTRY naming the file, without a stack trace", () => {
    const path = damaged(rootOf("model_versions"));
    const { code, stdout, stderr } = runExample(path);
    expect(code).toBe(1);
    expect(reportedError(stderr)).toContain(`[E_REGISTRY]`);
    expect(reportedError(stderr)).toContain(`the MLflow database "${path}" is damaged`);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toContain("Inference Job Failed: [E_REGISTRY]");
  });
});

describe("a SQLite store locked by another writer", () => {
  /**
   * Another process that holds BEGIN EXCLUSIVE on the database for `ms`, then commits and exits; with
   * `wal`, it first turns the store to WAL mode with locking_mode=EXCLUSIVE (readers are then locked out).
   */
  async function lock(path: string, ms: number, wal = false): Promise<ChildProcess> {
    const script =
      "const db = new (require('better-sqlite3'))(process.argv[1]);" +
      (wal ? "db.pragma('journal_mode = WAL'); db.pragma('locking_mode = EXCLUSIVE');" : "") +
      "db.exec('BEGIN EXCLUSIVE'); process.stdout.write('locked\\n');" +
      "setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));";
    const child = spawn(process.execPath, ["-e", script, path, String(ms)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    lockers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`the locker exited (${code}) before locking`)));
    });
    return child;
  }

  it("given a lock released after 1.5 s, when resolved, then the lookup waits for it and succeeds", async () => {
    const path = exampleStore();
    await lock(path, 1500);
    const start = performance.now();
    const registry = openRegistry(`sqlite:///${path}`, { env: { MLBATCH_SQLITE_LOCK_TIMEOUT: "20" } });
    try {
      expect(await registry.getModelVersion({ name: "bikes", alias: "Champion" })).toMatchObject({
        version: 2,
      });
    } finally {
      registry.close();
    }
    expect(performance.now() - start).toBeGreaterThan(1000);
  });

  it("given a lock held longer than the bound (expected failure), when resolved, then E_REGISTRY says the file is locked by a writer and what to do", async () => {
    const path = exampleStore();
    await lock(path, 30_000);
    const start = performance.now();
    const error = await registryError(
      `sqlite:///${path}`,
      { name: "bikes", alias: "Champion" },
      {
        MLBATCH_SQLITE_LOCK_TIMEOUT: "1",
      },
    );
    expect(performance.now() - start).toBeLessThan(5000);
    expect(error.code).toBe("E_REGISTRY");
    expect(error.message).toContain(
      `the MLflow database "${path}" is locked by another writer: a write transaction holds an exclusive lock (rollback-journal mode: BEGIN EXCLUSIVE, or a commit); it was still locked after 1 s of retries (SQLite: database is locked)`,
    );
    expect(error.message).toContain("MLBATCH_SQLITE_LOCK_TIMEOUT=<seconds> (default 30)");
  });

  it("given a WAL-mode store held exclusively past the bound (expected failure), when resolved, then E_REGISTRY says it is in WAL mode", async () => {
    const path = exampleStore();
    await lock(path, 30_000, true);
    const error = await registryError(
      `sqlite:///${path}`,
      { name: "bikes", alias: "Champion" },
      {
        MLBATCH_SQLITE_LOCK_TIMEOUT: "0.5",
      },
    );
    expect(error.code).toBe("E_REGISTRY");
    expect(error.message).toContain(
      `"${path}" is locked by another writer: the store is in WAL mode (mlflow.db-wal exists) and a connection holds it exclusively`,
    );
    expect(error.message).toContain("still locked after 0.5 s of retries");
  });

  it("given the CLI while another writer holds the lock for 2 s, when run, then the job succeeds", async () => {
    const path = exampleStore();
    await lock(path, 2000);
    const { code, stdout, stderr } = runExample(path, { MLBATCH_SQLITE_LOCK_TIMEOUT: "20" });
    expect(stderr).not.toContain("error");
    expect(code).toBe(0);
    expect(stdout).toContain("Inference Job Finished: Outputs Shape: (3476, 2)");
  });

  it("given the CLI while another writer holds the lock past the bound (expected failure), when run, then the job fails saying the store is locked", async () => {
    const path = exampleStore();
    await lock(path, 30_000);
    const { code, stdout, stderr } = runExample(path, { MLBATCH_SQLITE_LOCK_TIMEOUT: "1" });
    expect(code).toBe(1);
    expect(reportedError(stderr)).toContain(`[E_REGISTRY]`);
    expect(reportedError(stderr)).toContain(`"${path}" is locked by another writer`);
    expect(stderr).not.toContain("not a readable MLflow database");
    expect(stdout).toContain("Inference Job Failed: [E_REGISTRY]");
  });

  it("given an MLBATCH_SQLITE_LOCK_TIMEOUT that is not a number (expected failure), when opened, then E_CONFIG names the variable", () => {
    const error = (() => {
      try {
        openRegistry(`sqlite:///${join(BIKES, "mlflow.db")}`, {
          env: { MLBATCH_SQLITE_LOCK_TIMEOUT: "soon" },
        }).close();
      } catch (e) {
        return e as MlbatchError;
      }
      return undefined;
    })();
    expect(error?.code).toBe("E_CONFIG");
    expect(error?.message).toContain("MLBATCH_SQLITE_LOCK_TIMEOUT must be a number of seconds >= 0");
  });
});
