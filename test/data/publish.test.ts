/**
 * What overwrite may replace, how a folder of parts is replaced (the old output or the whole new one at
 * every instant), and how the leftovers of dead runs are repaired.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { writeAtomically } from "../../src/data/writers/atomic.js";
import { sweepLeftovers } from "../../src/data/writers/leftovers.js";
import { ParquetWriter } from "../../src/data/writers/parquet-writer.js";
import { parseScratch, scratchPath } from "../../src/scratch.js";
import { eachTest, failure, ROOT } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

/** A pid that no process of this host has now. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  return Number(child.stdout);
}

/** A scratch name of `kind` beside `path`, as a dead process of this host would have left it. */
function deadScratch(path: string, kind: "tmp" | "old" | "parts"): string {
  const name = basename(scratchPath(path, kind)).replace(`-${process.pid}-`, `-${deadPid()}-`);
  return join(dir, name);
}

describe("what mode overwrite replaces", () => {
  it("given a folder of the user's at the path of a one-file output, when written with mode overwrite, then it is refused and nothing in it is touched", async () => {
    const path = join(dir, "results");
    mkdirSync(path);
    writeFileSync(join(path, "keep_me.txt"), "precious");
    const writer = new ParquetWriter({ path, mode: "overwrite" });
    for (const attempt of [() => writer.check(), () => writer.write(db, "(SELECT 1 AS x)")]) {
      const error = await failure(attempt());
      expect(error.code).toBe("E_WRITE");
      expect(error.message).toContain(`"${path}": it is a folder`);
    }
    expect(readFileSync(join(path, "keep_me.txt"), "utf8")).toBe("precious");
    expect(readdirSync(dir)).toEqual(["results"]);
  });

  it("given an empty folder, when a one-file output is written there with mode overwrite, then it is refused too (a file never replaces a folder)", async () => {
    const path = join(dir, "empty");
    mkdirSync(path);
    await failure(new ParquetWriter({ path, mode: "overwrite" }).write(db, "(SELECT 1 AS x)"));
    expect(lstatSync(path).isDirectory()).toBe(true);
  });

  it("given a report path naming a folder, when a report is written atomically, then it is refused and the folder kept", async () => {
    const path = join(dir, "reports");
    mkdirSync(path);
    writeFileSync(join(path, "old.json"), "{}");
    const error = await failure(writeAtomically(path, (temp) => Promise.resolve(writeFileSync(temp, "{}"))));
    expect(error.code).toBe("E_WRITE");
    expect(readdirSync(path)).toEqual(["old.json"]);
  });

  it("given a parts folder written by mlbatch 0.1 (no marker, only its part names), when overwritten, then it is replaced; with a file of the user's among the parts, it is refused", async () => {
    const path = join(dir, "out");
    mkdirSync(path);
    writeFileSync(join(path, "part-00000.parquet"), "old part");
    writeFileSync(join(path, "part-00001.parquet"), "old part");
    await new ParquetWriter({ path, mode: "overwrite", maxRowsPerFile: 5 }).write(db, "(SELECT 1 AS x)");
    expect(readdirSync(path)).toEqual(["_SUCCESS", "part-00000.parquet"]);
    const mixed = join(dir, "mixed");
    mkdirSync(mixed);
    writeFileSync(join(mixed, "part-00000.parquet"), "old part");
    writeFileSync(join(mixed, "notes.txt"), "precious");
    const error = await failure(
      new ParquetWriter({ path: mixed, mode: "overwrite", maxRowsPerFile: 5 }).write(db, "(SELECT 1 AS x)"),
    );
    expect(error.message).toContain("mlbatch did not write");
    expect(readdirSync(mixed).sort()).toEqual(["notes.txt", "part-00000.parquet"]);
  });

  it("given a file at the path of a parts output, when written with mode overwrite, then it is refused and kept", async () => {
    const path = join(dir, "out");
    writeFileSync(path, "a file");
    const error = await failure(
      new ParquetWriter({ path, mode: "overwrite", maxRowsPerFile: 1 }).write(db, "(SELECT 1 AS x)"),
    );
    expect(error.message).toContain("it is a file");
    expect(readFileSync(path, "utf8")).toBe("a file");
  });

  it("given a symlink of the user's to a folder elsewhere, when parts are written there twice, then they land in the linked place and the link stays", async () => {
    const real = join(dir, "volume", "predictions");
    mkdirSync(join(dir, "volume"));
    symlinkSync(real, join(dir, "out"));
    const writer = new ParquetWriter({ path: join(dir, "out"), mode: "overwrite", maxRowsPerFile: 2 });
    await writer.write(db, "(SELECT range AS x FROM range(3))");
    await writer.write(db, "(SELECT range AS x FROM range(5))");
    expect(lstatSync(join(dir, "out")).isSymbolicLink()).toBe(true);
    expect(readdirSync(join(dir, "out"))).toHaveLength(4);
    expect(readdirSync(real)).toEqual(readdirSync(join(dir, "out")));
  });
});

describe("replacing a folder of parts", () => {
  it("given a reader polling the folder while another process overwrites it 40 times, then every listing is one whole output", async () => {
    const path = join(dir, "out");
    const writer = `
      const { Database } = await import(${JSON.stringify(join(ROOT, "dist", "data", "database.js"))});
      const { ParquetWriter } = await import(${JSON.stringify(join(ROOT, "dist", "data", "writers", "parquet-writer.js"))});
      const db = await Database.create();
      for (let i = 1; i <= 40; i++) {
        await new ParquetWriter({ path: ${JSON.stringify(path)}, mode: "overwrite", maxRowsPerFile: 1 })
          .write(db, "(SELECT range AS x FROM range(" + (1 + (i % 3)) + "))");
      }
      db.close();`;
    await new ParquetWriter({ path, maxRowsPerFile: 1 }).write(db, "(SELECT 1 AS x)");
    const child = spawn(process.execPath, ["--input-type=module", "-e", writer], { stdio: "inherit" });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    let done = false;
    void exited.then(() => {
      done = true;
    });
    let looks = 0;
    try {
      while (!done) {
        // Either listing is of one output: the marker lists exactly the parts beside it.
        // A reader resolves the link once, then reads that output (as a dataset reader lists it once).
        let names: string[];
        let marker: { files: string[] };
        try {
          const real = realpathSync(path);
          names = readdirSync(real).sort();
          marker = JSON.parse(readFileSync(join(real, "_SUCCESS"), "utf8"));
        } catch {
          // The old parts folder may go after the reader resolved the link: it then finds nothing of it,
          // never a mix; the output path itself is always there.
          expect(existsSync(path)).toBe(true);
          continue;
        }
        expect(names.filter((n) => n !== "_SUCCESS")).toEqual(marker.files.filter((n) => n !== "_SUCCESS"));
        looks++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      child.kill("SIGKILL");
    }
    expect(await exited).toBe(0);
    expect(looks).toBeGreaterThan(10);
    expect(readdirSync(dir).filter((name) => name !== "out")).toHaveLength(1);
  });
});

describe("leftovers of dead runs", () => {
  it("given temporaries and parts of dead runs and of this live one, when swept, then only the dead ones go", async () => {
    const path = join(dir, "out.parquet");
    const deadTmp = deadScratch(path, "tmp");
    const deadParts = deadScratch(join(dir, "parts"), "parts");
    const liveTmp = scratchPath(path, "tmp");
    writeFileSync(deadTmp, "half a file");
    mkdirSync(deadParts);
    writeFileSync(liveTmp, "being written");
    const swept = await sweepLeftovers(dir);
    expect([...swept.removed].sort()).toEqual([deadParts, deadTmp].sort());
    expect(readdirSync(dir)).toEqual([basename(liveTmp)]);
  });

  it("given a run killed between the two renames of a replace, when the next run sweeps, then the old output is back at its path", async () => {
    const path = join(dir, "out");
    await new ParquetWriter({ path, maxRowsPerFile: 1 }).write(db, "(SELECT 1 AS x)");
    const before = readdirSync(path);
    renameSync(path, deadScratch(path, "old"));
    expect(existsSync(path)).toBe(false);
    const swept = await sweepLeftovers(dir);
    expect(swept.restored).toEqual([path]);
    expect(readdirSync(path)).toEqual(before);
  });

  it("given the published parts folder of a finished run, when swept, then it is kept", async () => {
    const path = join(dir, "out");
    await new ParquetWriter({ path, maxRowsPerFile: 1 }).write(db, "(SELECT 1 AS x)");
    await sweepLeftovers(dir);
    expect(readdirSync(path)).toEqual(["_SUCCESS", "part-00000.parquet"]);
    expect(readdirSync(dir).filter((n) => parseScratch(n)?.kind === "parts")).toHaveLength(1);
  });

  it("given a killed run's temporary file beside an output, when the next write runs, then it is gone afterwards", async () => {
    const path = join(dir, "out.parquet");
    const left = deadScratch(path, "tmp");
    writeFileSync(left, "half a file");
    await new ParquetWriter({ path }).write(db, "(SELECT 1 AS x)");
    expect(readdirSync(dir)).toEqual(["out.parquet"]);
  });
});

describe("DuckDB spill folders left in TMPDIR", () => {
  it("given spill folders of a dead run, of mlbatch 0.1 idle for hours and of 0.1 in use, when a database opens, then only the first two go", async () => {
    const { Database } = await import("../../src/data/database.js");
    const { ownedFolder } = await import("../../src/scratch.js");
    const tmp = join(dir, "tmp");
    mkdirSync(tmp);
    const dead = ownedFolder(tmp, "mlbatch-duckdb").replace(`-${process.pid}-`, `-${deadPid()}-`);
    const old = join(tmp, "mlbatch-duckdb-a1B2c3");
    const busy = join(tmp, "mlbatch-duckdb-z9Y8x7");
    for (const folder of [dead, old, busy]) mkdirSync(folder);
    writeFileSync(join(old, "spill.block"), "x");
    const hoursAgo = new Date(Date.now() - 3 * 3600 * 1000);
    utimesSync(join(old, "spill.block"), hoursAgo, hoursAgo);
    utimesSync(old, hoursAgo, hoursAgo);
    const before = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      (await Database.create()).close();
    } finally {
      process.env.TMPDIR = before;
    }
    expect(readdirSync(tmp)).toEqual([basename(busy)]);
  });
});
