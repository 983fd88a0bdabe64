/**
 * Writers fed query by query (Writer.stageRows, Writer.writeFile): each query's rows are written as
 * they come, and the output is the one a single COPY of all the rows would give.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { CsvWriter } from "../../src/data/writers/csv-writer.js";
import { JsonLinesWriter } from "../../src/data/writers/json-lines-writer.js";
import { ParquetWriter } from "../../src/data/writers/parquet-writer.js";
import { readStruct, writeStruct } from "../../src/data/writers/thrift.js";
import type { RowSink, Writer } from "../../src/data/writers/writer.js";
import { MlbatchError } from "../../src/errors.js";
import { eachTest, failure, python } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

/** Rows `from` .. `from + count - 1`, with a null every fifth row, text, a date and a list. */
function rows(from: number, count: number): string {
  return (
    `(SELECT (range + ${from})::BIGINT AS id, CASE WHEN range % 5 = 0 THEN NULL ELSE ((range + ${from}) % 7)::VARCHAR END AS code, ` +
    `DATE '2020-01-01' + ((range + ${from}) % 30)::INT AS day, ((range + ${from}) * 0.5)::FLOAT AS prediction FROM range(${count}))`
  );
}

/** Appends 0..149,999, then nothing, then 150,000..150,999 and 151,000..350,999: in four queries. */
async function feed(sink: RowSink): Promise<void> {
  await sink.append(rows(0, 150_000));
  await sink.append(rows(150_000, 0));
  await sink.append(rows(150_000, 1_000));
  await sink.append(rows(151_000, 200_000));
}

const WRITERS: Record<string, { make: (path: string) => Writer; read: string }> = {
  "out.parquet": { make: (path) => new ParquetWriter({ path }), read: "read_parquet" },
  "out.csv": { make: (path) => new CsvWriter({ path }), read: "read_csv" },
  "out.csv.gz": { make: (path) => new CsvWriter({ path }), read: "read_csv" },
  "out.jsonl": { make: (path) => new JsonLinesWriter({ path }), read: "read_json" },
  "out.jsonl.gz": { make: (path) => new JsonLinesWriter({ path }), read: "read_json" },
};

describe.each(Object.keys(WRITERS))("rows given query by query to %s", (name) => {
  const { make, read } = WRITERS[name]!;

  it("given four queries (one empty), when staged and committed, then the file holds every row once, in order, as one COPY would", async () => {
    const path = join(dir, name);
    const staged = await make(path).stageRows(db, feed);
    expect(staged.rows).toBe(351_000);
    expect(existsSync(path)).toBe(false);
    await staged.commit();
    const [check] = await db.rows(
      `SELECT count(*)::INT AS n, count_if(id <> r)::INT AS misplaced, count(code)::INT AS codes, ` +
        `count_if(prediction <> id * 0.5)::INT AS wrong FROM (SELECT *, row_number() OVER () - 1 AS r FROM ${read}('${path}'))`,
    );
    expect(check).toEqual({ n: 351_000, misplaced: 0, codes: 280_800, wrong: 0 });
    expect(readdirSync(dir)).toEqual([name]);
  });
});

describe("ParquetWriter fed query by query", () => {
  it("given four queries and a pandas index, then pandas and pyarrow read one file with every row group and the index", async () => {
    const path = join(dir, "out.parquet");
    await (await new ParquetWriter({ path }).stageRows(db, feed, { pandasIndex: ["id"] })).commit();
    const groups = await db.rows(
      `SELECT row_group_num_rows::INT AS n FROM parquet_metadata('${path}') WHERE column_id = 0 ORDER BY row_group_id`,
    );
    expect(groups.map((g) => g.n)).toEqual([122_880, 27_120, 1_000, 122_880, 77_120]);
    const out = python(
      inject("python"),
      `import sys, pandas as pd, pyarrow.parquet as pq
df = pd.read_parquet(sys.argv[1])
t = pq.read_table(sys.argv[1])
print(df.index.name, len(df), df.loc[150_500, "prediction"], df["code"].isna().sum(), t.num_rows, pq.ParquetFile(sys.argv[1]).metadata.num_row_groups)`,
      [path],
    );
    expect(out.trim()).toBe("id 351000 75250.0 70200 351000 5");
  });

  it("given writeFile with metadata, then the one file carries it; a producer that fails leaves no file and keeps its error", async () => {
    const path = join(dir, "part.parquet");
    const written = await new ParquetWriter({ path: join(dir, "x") }).writeFile(db, path, feed, {
      metadata: { mlbatch_unit: "00003" },
    });
    expect(written).toBe(351_000);
    expect(
      await db.rows(
        `SELECT decode(value) AS v FROM parquet_kv_metadata('${path}') WHERE decode(key) = 'mlbatch_unit'`,
      ),
    ).toEqual([{ v: "00003" }]);
    const other = join(dir, "failed.parquet");
    const error = await failure(
      new ParquetWriter({ path: join(dir, "x") }).writeFile(db, other, async (sink) => {
        await sink.append(rows(0, 200_000));
        throw new MlbatchError("E_PREDICT", "the model failed");
      }),
    );
    expect(error.code).toBe("E_PREDICT");
    expect(readdirSync(dir)).toEqual(["part.parquet"]);
  });

  it("given writeFile and a folder that goes away between two queries, then the sink's own failure is E_WRITE naming the part", async () => {
    const folder = join(dir, "staging");
    mkdirSync(folder);
    const part = join(dir, "out", "part-00003.parquet");
    let fromSink: unknown;
    const error = await failure(
      new ParquetWriter({ path: join(dir, "x") }).writeFile(
        db,
        join(folder, "part.tmp"),
        async (sink) => {
          await sink.append(rows(0, 1000));
          rmSync(folder, { recursive: true });
          // What a sharded run's step sees (it would report any other error as an internal one).
          fromSink = await sink.append(rows(1000, 2000)).then(
            () => undefined,
            (e: unknown) => e,
          );
          throw fromSink;
        },
        { part },
      ),
    );
    for (const e of [fromSink, error]) {
      expect(e).toBeInstanceOf(MlbatchError);
      expect((e as MlbatchError).code).toBe("E_WRITE");
      expect((e as MlbatchError).message).toContain(`cannot write part "${part}"`);
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("parts fed query by query", () => {
  it("given queries of 250, 0, 700 and 50 rows and max_rows_per_file 400, then the parts hold 400, 400 and 200 rows in order", async () => {
    const path = join(dir, "out");
    const staged = await new CsvWriter({ path, maxRowsPerFile: 400 }).stageRows(db, async (sink) => {
      for (const [from, count] of [
        [0, 250],
        [250, 0],
        [250, 700],
        [950, 50],
      ] as const)
        await sink.append(`(SELECT range + ${from} AS x FROM range(${count}))`);
    });
    await staged.commit();
    expect(readdirSync(path)).toEqual(["_SUCCESS", "part-00000.csv", "part-00001.csv", "part-00002.csv"]);
    const counts = await db.rows(
      `SELECT min(x)::INT AS lo, count(*)::INT AS n FROM read_csv('${path}/*.csv', filename = true) GROUP BY filename ORDER BY filename`,
    );
    expect(counts).toEqual([
      { lo: 0, n: 400 },
      { lo: 400, n: 400 },
      { lo: 800, n: 200 },
    ]);
  });

  it("given a producer that fails after a part was written, then nothing new is visible and its error keeps its code", async () => {
    const path = join(dir, "out");
    const error = await failure(
      new ParquetWriter({ path, maxRowsPerFile: 100 }).stageRows(db, async (sink) => {
        await sink.append("(SELECT range AS x FROM range(250))");
        throw new MlbatchError("E_READ", "cannot read inputs");
      }),
    );
    expect(error.code).toBe("E_READ");
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("thrift compact protocol", () => {
  it("given a Parquet footer DuckDB wrote (statistics, dictionaries, bloom filters, key-value metadata), when read and written again, then the bytes are the same", async () => {
    const path = join(dir, "one.parquet");
    await new ParquetWriter({ path }).write(db, rows(0, 300_000), { pandasIndex: ["id"] });
    const file = readFileSync(path);
    const length = file.readUInt32LE(file.length - 8);
    const footer = file.subarray(file.length - 8 - length, file.length - 8);
    const { struct, end } = readStruct(footer);
    expect(end).toBe(footer.length);
    expect(Buffer.from(writeStruct(struct)).equals(footer)).toBe(true);
  });
});
