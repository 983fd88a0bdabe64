import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { CsvReader } from "../../src/data/readers/csv-reader.js";
import { JsonLinesReader } from "../../src/data/readers/json-lines-reader.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import type { Source } from "../../src/data/source.js";
import { eachTest, failure, INPUTS_TEST } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

async function column(source: Source, name: string): Promise<unknown[]> {
  return (await db.rows(`SELECT "${name}" AS v FROM ${source.query()}`)).map((r) => r.v);
}

/** Writes a Parquet file of the given values of column v (and the folder it is in). */
async function parquet(path: string, values: number[]): Promise<void> {
  mkdirSync(join(path, ".."), { recursive: true });
  await db.run(`COPY (SELECT unnest([${values.join(", ")}]) AS v) TO '${path}' (FORMAT parquet)`);
}

describe("file readers: globs and folders", () => {
  it("given a glob, when read, then files come in path order whatever order they were written in", async () => {
    await parquet(join(dir, "part-2.parquet"), [20, 21]);
    await parquet(join(dir, "part-0.parquet"), [0, 1]);
    await parquet(join(dir, "part-1.parquet"), [10]);
    writeFileSync(join(dir, "notes.txt"), "not data");
    const source = await new ParquetReader({ path: join(dir, "part-*.parquet") }).open(db);
    expect(await column(source, "v")).toEqual([0, 1, 10, 20, 21]);
  });

  it("given a folder holding a writer's hidden temporary parts and a published parts link, when read, then only published rows come, once", async () => {
    const { ParquetWriter } = await import("../../src/data/writers/parquet-writer.js");
    await parquet(join(dir, "in", "day=1", "part-0.parquet"), [1]);
    await new ParquetWriter({ path: join(dir, "in", "day=2"), maxRowsPerFile: 1 }).write(
      db,
      "(SELECT unnest([2, 3]) AS v)",
    );
    await parquet(join(dir, "in", ".mlbatch-tmp-0-0-day=3", "part-0.parquet"), [99]);
    await parquet(join(dir, "in", "_temporary", "part-0.parquet"), [98]);
    const source = await new ParquetReader({ path: join(dir, "in") }).open(db);
    expect(await column(source, "v")).toEqual([1, 2, 3]);
  });

  it("given a glob that matches no file, when opened, then E_READ says so", async () => {
    const error = await failure(new ParquetReader({ path: join(dir, "nothing-*.parquet") }).open(db));
    expect(error.code).toBe("E_READ");
    expect(error.message).toContain("no file matches this glob");
  });

  it("given a Hive-partitioned folder, when read, then partition values become columns and folders come in path order", async () => {
    await parquet(join(dir, "yr=2012", "mnth=2", "a.parquet"), [5]);
    await parquet(join(dir, "yr=2011", "mnth=10", "a.parquet"), [2]);
    await parquet(join(dir, "yr=2011", "mnth=1", "b.parquet"), [1]);
    await parquet(join(dir, "yr=2011", "mnth=1", "a.parquet"), [0]);
    writeFileSync(join(dir, "yr=2011", "_SUCCESS"), "");
    writeFileSync(join(dir, "yr=2011", ".part.parquet.crc"), "");
    writeFileSync(join(dir, "yr=2011", "_metadata.parquet"), "not a data file");
    const source = await new ParquetReader({ path: dir }).open(db);
    expect(source.columns.map((c) => c.name)).toEqual(["v", "mnth", "yr"]);
    expect(await db.rows(`SELECT * FROM ${source.query()}`)).toEqual([
      { v: 0, mnth: 1n, yr: 2011n },
      { v: 1, mnth: 1n, yr: 2011n },
      // Path order is text order: "mnth=10" sorts before "mnth=2".
      { v: 2, mnth: 10n, yr: 2011n },
      { v: 5, mnth: 2n, yr: 2012n },
    ]);
  });

  it("given a folder, when hive_partitioning is off, then only the files' columns are read", async () => {
    await parquet(join(dir, "k=1", "a.parquet"), [1]);
    const source = await new ParquetReader({ path: dir, hivePartitioning: false }).open(db);
    expect(source.columns.map((c) => c.name)).toEqual(["v"]);
  });

  it("given a folder without files of the reader's format, when opened, then E_READ says so", async () => {
    writeFileSync(join(dir, "a.csv"), "v\n1\n");
    const error = await failure(new ParquetReader({ path: dir }).open(db));
    expect(error.code).toBe("E_READ");
    expect(error.message).toContain("the folder has no .parquet file");
  });

  it("given Hive folders of CSV and of JSON Lines, when read, then both give the same rows", async () => {
    for (const [k, lines] of [
      ["1", ["a", "x"]],
      ["2", ["b"]],
    ] as const) {
      mkdirSync(join(dir, "csv", `k=${k}`), { recursive: true });
      mkdirSync(join(dir, "jsonl", `k=${k}`), { recursive: true });
      writeFileSync(join(dir, "csv", `k=${k}`, "part.csv"), `s\n${lines.join("\n")}\n`);
      writeFileSync(
        join(dir, "jsonl", `k=${k}`, "part.jsonl"),
        lines.map((s) => JSON.stringify({ s })).join("\n"),
      );
    }
    const csv = await new CsvReader({ path: join(dir, "csv") }).open(db);
    const jsonl = await new JsonLinesReader({ path: join(dir, "jsonl") }).open(db);
    const expected = [
      { s: "a", k: 1n },
      { s: "x", k: 1n },
      { s: "b", k: 2n },
    ];
    expect(await db.rows(`SELECT * FROM ${csv.query()}`)).toEqual(expected);
    expect(await db.rows(`SELECT * FROM ${jsonl.query()}`)).toEqual(expected);
  });

  it("given columns, when read, then only those are read, in that order, and the pandas index stays an id column", async () => {
    const source = await new ParquetReader({ path: INPUTS_TEST, columns: ["temp", "instant", "hr"] }).open(
      db,
    );
    expect(source.columns.map((c) => c.name)).toEqual(["temp", "instant", "hr"]);
    expect(source.idColumns).toEqual(["instant"]);
    const without = await new ParquetReader({ path: INPUTS_TEST, columns: ["hr"] }).open(db);
    expect(without.idColumns).toEqual([]);
  });

  it("given columns naming one the input lacks, when opened, then E_READ lists the input's columns", async () => {
    const error = await failure(new ParquetReader({ path: INPUTS_TEST, columns: ["hr", "hour"] }).open(db));
    expect(error.code).toBe("E_READ");
    expect(error.message).toContain('inputs.columns names column(s) "hour"');
    expect(error.message).toContain("columns: dteday, season");
  });

  it("given a limit over several files, when streamed, then the first rows in file order are read", async () => {
    await parquet(join(dir, "b.parquet"), [3, 4, 5]);
    await parquet(join(dir, "a.parquet"), [0, 1, 2]);
    const source = await new ParquetReader({ path: join(dir, "*.parquet"), limit: 4 }).open(db);
    const values: number[] = [];
    for await (const batch of source.batches([{ name: "v", type: "int32" }], 3))
      values.push(...(batch.columns[0]!.data as Int32Array));
    expect(values).toEqual([0, 1, 2, 3]);
  });
});
