import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { CsvWriter } from "../../src/data/writers/csv-writer.js";
import { JsonLinesWriter } from "../../src/data/writers/json-lines-writer.js";
import { ParquetWriter } from "../../src/data/writers/parquet-writer.js";
import type { Writer } from "../../src/data/writers/writer.js";
import { MlbatchError } from "../../src/errors.js";
import { eachTest, failure, python } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

const WRITERS: Record<string, (options: ConstructorParameters<typeof ParquetWriter>[0]) => Writer> = {
  parquet: (o) => new ParquetWriter(o),
  csv: (o) => new CsvWriter(o),
  jsonl: (o) => new JsonLinesWriter(o),
};
const READ: Record<string, string> = { parquet: "read_parquet", csv: "read_csv", jsonl: "read_json" };

describe.each(Object.keys(WRITERS))("%s writer", (format) => {
  const make = WRITERS[format]!;

  it("given an existing output and the default mode (error), when written, then it refuses and never touches the file", async () => {
    const path = join(dir, `out.${format}`);
    writeFileSync(path, "precious");
    const before = statSync(path);
    const writer = make({ path });
    const early = await failure(writer.check());
    const late = await failure(writer.write(db, "(SELECT 1 AS x)"));
    for (const error of [early, late]) {
      expect(error.code).toBe("E_WRITE");
      expect(error.message).toContain("already exists");
      expect(error.message).toContain("mode: overwrite");
    }
    expect(readFileSync(path, "utf8")).toBe("precious");
    expect(statSync(path).mtimeMs).toBe(before.mtimeMs);
    expect(readdirSync(dir)).toEqual([`out.${format}`]);
  });

  it("given an output that appears while the write runs (mode error), when committed, then the new file is refused", async () => {
    const path = join(dir, `out.${format}`);
    const staged = await make({ path }).stage(db, "(SELECT 1 AS x)");
    writeFileSync(path, "someone else's");
    await failure(staged.commit());
    expect(readFileSync(path, "utf8")).toBe("someone else's");
    expect(readdirSync(dir)).toEqual([`out.${format}`]);
  });

  it("given mode overwrite, when written over an existing output, then it is replaced whole", async () => {
    const path = join(dir, `out.${format}`);
    writeFileSync(path, "old");
    expect(await make({ path, mode: "overwrite" }).write(db, "(SELECT range AS x FROM range(3))")).toBe(3);
    expect(await db.rows(`SELECT sum(x)::INT AS s FROM ${READ[format]}('${path}')`)).toEqual([{ s: 3 }]);
  });

  it("given max_rows_per_file, when written, then a folder of part files holds every row in order", async () => {
    const path = join(dir, "out");
    const rows = await make({ path, maxRowsPerFile: 400 }).write(db, "(SELECT range AS x FROM range(1000))");
    expect(rows).toBe(1000);
    expect(readdirSync(path)).toEqual([
      "_SUCCESS",
      `part-00000.${format}`,
      `part-00001.${format}`,
      `part-00002.${format}`,
    ]);
    const counts = await db.rows(
      `SELECT filename, count(*)::INT AS n FROM ${READ[format]}('${path}/*.${format}', filename = true) GROUP BY filename ORDER BY filename`,
    );
    expect(counts.map((c) => c.n)).toEqual([400, 400, 200]);
    const [order] = await db.rows(
      `SELECT count_if(x <> r)::INT AS misplaced FROM (SELECT x, row_number() OVER () - 1 AS r FROM ${READ[format]}('${path}/*.${format}'))`,
    );
    expect(order).toEqual({ misplaced: 0 });
  });

  it("given max_rows_per_file and no rows, when written, then one empty part keeps the columns", async () => {
    const path = join(dir, "out");
    expect(await make({ path, maxRowsPerFile: 10 }).write(db, "(SELECT 1 AS x WHERE false)")).toBe(0);
    expect(readdirSync(path)).toEqual(["_SUCCESS", `part-00000.${format}`]);
  });

  it("given parts over an existing folder mlbatch wrote, when written with mode error or overwrite, then error refuses and overwrite replaces it whole", async () => {
    const path = join(dir, "out");
    await make({ path, maxRowsPerFile: 1 }).write(db, "(SELECT range AS x FROM range(3))");
    await failure(make({ path, maxRowsPerFile: 2 }).write(db, "(SELECT 1 AS x)"));
    expect(readdirSync(path)).toHaveLength(4);
    await make({ path, maxRowsPerFile: 2, mode: "overwrite" }).write(db, "(SELECT range AS x FROM range(3))");
    expect(readdirSync(path)).toEqual(["_SUCCESS", `part-00000.${format}`, `part-00001.${format}`]);
    // The folder is a link to one hidden parts folder: the old one is gone.
    expect(readdirSync(dir).filter((name) => name !== "out")).toHaveLength(1);
  });

  it("given a folder mlbatch did not write, when parts are written with mode overwrite, then it is refused and left untouched", async () => {
    const path = join(dir, "out");
    mkdirSync(path);
    writeFileSync(join(path, "part-00009.old"), "old part");
    const error = await failure(
      make({ path, maxRowsPerFile: 2, mode: "overwrite" }).write(db, "(SELECT 1 AS x)"),
    );
    expect(error.code).toBe("E_WRITE");
    expect(error.message).toContain("mlbatch did not write");
    expect(readdirSync(path)).toEqual(["part-00009.old"]);
    expect(readdirSync(dir)).toEqual(["out"]);
  });

  it("given a query that fails after some parts were written, when written, then nothing new is visible", async () => {
    const path = join(dir, "out");
    await failure(
      make({ path, maxRowsPerFile: 100 }).write(
        db,
        "(SELECT CASE WHEN range < 900 THEN range ELSE error('boom') END AS x FROM range(1000))",
      ),
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it("given rows handed query by query and a folder that goes away between them, when staged, then the sink's own failure is E_WRITE naming the output", async () => {
    const path = join(dir, "sub", `out.${format}`);
    let fromSink: unknown;
    const error = await failure(
      make({ path }).stageRows(db, async (sink) => {
        await sink.append("(SELECT range AS x FROM range(10))");
        rmSync(join(dir, "sub"), { recursive: true, force: true });
        // What a job's step sees (it would report any other error as an internal one).
        fromSink = await sink.append("(SELECT range AS x FROM range(10))").then(
          () => undefined,
          (e: unknown) => e,
        );
        throw fromSink;
      }),
    );
    for (const e of [fromSink, error]) {
      expect(e).toBeInstanceOf(MlbatchError);
      expect((e as MlbatchError).code).toBe("E_WRITE");
      expect((e as MlbatchError).message).toContain(`cannot write outputs "${path}"`);
      expect((e as MlbatchError).message).toContain("writable folder with free space; nothing was written");
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it("given a staged output, when discarded, then nothing is left and the path never existed", async () => {
    const path = join(dir, `out.${format}`);
    const staged = await make({ path }).stage(db, "(SELECT 1 AS x)");
    expect(staged.rows).toBe(1);
    expect(existsSync(path)).toBe(false);
    await staged.discard();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("ParquetWriter compression and parts", () => {
  it("given zstd and parts, when written, then pyarrow reads the folder as one dataset with the codec", async () => {
    const path = join(dir, "predictions");
    await new ParquetWriter({ path, compression: "zstd", maxRowsPerFile: 3000 }).write(
      db,
      "(SELECT range AS id, (range * 0.5)::FLOAT AS prediction FROM range(10000))",
    );
    const out = python(
      inject("python"),
      `import sys, pyarrow.parquet as pq, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet").to_table()
codec = pq.ParquetFile(sys.argv[1] + "/part-00000.parquet").metadata.row_group(0).column(0).compression
print(t.num_rows, t.column("id").to_pylist() == list(range(10000)), codec)`,
      [path],
    );
    expect(out.trim()).toBe("10000 True ZSTD");
  });
});

describe("CsvWriter and JsonLinesWriter compression", () => {
  it("given a .gz path, when written, then the file is gzip-compressed and reads back", async () => {
    for (const [path, read] of [
      [join(dir, "p.csv.gz"), "read_csv"],
      [join(dir, "p.jsonl.gz"), "read_json"],
    ] as const) {
      const writer = path.includes("csv") ? new CsvWriter({ path }) : new JsonLinesWriter({ path });
      await writer.write(db, "(SELECT range AS x FROM range(100))");
      expect([...readFileSync(path).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
      expect(await db.rows(`SELECT sum(x)::INT AS s FROM ${read}('${path}')`)).toEqual([{ s: 4950 }]);
    }
  });
});
