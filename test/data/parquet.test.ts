import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { ParquetWriter } from "../../src/data/writers/parquet-writer.js";
import { eachTest, failure, INPUTS_TEST, python } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

describe("ParquetReader", () => {
  it("given the pandas-written bikes inputs, when opened, then columns and the pandas index (instant) are found", async () => {
    const source = await new ParquetReader({ path: INPUTS_TEST }).open(db);
    expect(source.columns.map((c) => c.name)).toContain("hr");
    expect(source.typeOf("hr")).toBe("BIGINT");
    expect(source.typeOf("temp")).toBe("DOUBLE");
    expect(source.idColumns).toEqual(["instant"]);
  });

  it("given a batch size that does not divide the rows, when streamed, then every row comes once, in order", async () => {
    const source = await new ParquetReader({ path: INPUTS_TEST }).open(db);
    const sizes: number[] = [];
    const instants: bigint[] = [];
    const temps: number[] = [];
    for await (const batch of source.batches(
      [
        { name: "instant", type: "int64" },
        { name: "temp", type: "float32" },
      ],
      1000,
    )) {
      sizes.push(batch.length);
      instants.push(...(batch.columns[0]!.data as BigInt64Array));
      temps.push(...(batch.columns[1]!.data as Float32Array));
    }
    expect(sizes).toEqual([1000, 1000, 1000, 476]);
    const expected = await db.rows(`SELECT instant, temp::FLOAT AS temp FROM read_parquet('${INPUTS_TEST}')`);
    expect(instants).toEqual(expected.map((r) => BigInt(r.instant as number)));
    expect(temps).toEqual(expected.map((r) => r.temp));
  });

  it("given a limit, when streamed, then only the first rows are read", async () => {
    const source = await new ParquetReader({ path: INPUTS_TEST, limit: 5 }).open(db);
    let rows = 0;
    for await (const batch of source.batches([{ name: "hr", type: "int64" }], 3)) rows += batch.length;
    expect(rows).toBe(5);
  });

  it("given a missing file, when opened, then E_READ names the path and the working directory", async () => {
    const error = await failure(new ParquetReader({ path: "nope/missing.parquet" }).open(db));
    expect(error.code).toBe("E_READ");
    expect(error.message).toContain('"nope/missing.parquet": no such file');
    expect(error.message).toContain(process.cwd());
  });

  it("given a corrupt file, when opened, then E_READ says it is not a readable Parquet file", async () => {
    const path = join(dir, "corrupt.parquet");
    writeFileSync(path, "PAR1 this is not parquet");
    const error = await failure(new ParquetReader({ path }).open(db));
    expect(error.code).toBe("E_READ");
    expect(error.message).toContain("not a readable Parquet file");
  });
});

describe("ParquetWriter", () => {
  it("given a query, when written, then pandas/pyarrow read back the same rows and types", async () => {
    const path = join(dir, "out", "nested", "predictions.parquet");
    const rows = await new ParquetWriter({ path }).write(
      db,
      "(SELECT range AS id, (range * 0.5)::FLOAT AS prediction FROM range(10000))",
    );
    expect(rows).toBe(10000);
    const out = python(
      inject("python"),
      `import sys, pandas as pd, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1]); df = pd.read_parquet(sys.argv[1])
print(t.schema.field("id").type, t.schema.field("prediction").type, len(df), df.id.sum(), int(df.prediction.astype("float64").sum()))`,
      [path],
    );
    expect(out.trim()).toBe(`int64 float ${10000} ${(9999 * 10000) / 2} ${(9999 * 10000) / 4}`);
  });

  it("given a query that fails midway, when written, then no file (final or temporary) is left", async () => {
    const path = join(dir, "predictions.parquet");
    const error = await failure(
      new ParquetWriter({ path }).write(
        db,
        "(SELECT CASE WHEN range < 500000 THEN range ELSE error('boom') END AS x FROM range(1000000))",
      ),
    );
    expect(error.code).toBe("E_WRITE");
    expect(error.message).toContain(`"${path}"`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("given an existing output, when the write fails, then the old file is left untouched", async () => {
    const path = join(dir, "predictions.parquet");
    await new ParquetWriter({ path }).write(db, "(SELECT 1 AS x)");
    await failure(new ParquetWriter({ path, mode: "overwrite" }).write(db, "(SELECT error('boom') AS x)"));
    expect(await db.rows(`SELECT x FROM '${path}'`)).toEqual([{ x: 1 }]);
    expect(readdirSync(dir)).toEqual(["predictions.parquet"]);
  });

  it("given a folder that cannot be created, when written, then E_WRITE says so", async () => {
    writeFileSync(join(dir, "file"), "");
    const error = await failure(
      new ParquetWriter({ path: join(dir, "file", "out.parquet") }).write(db, "(SELECT 1 AS x)"),
    );
    expect(error.code).toBe("E_WRITE");
    expect(existsSync(join(dir, "file", "out.parquet"))).toBe(false);
  });
});
