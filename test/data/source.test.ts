import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { Source } from "../../src/data/source.js";

let db: Database;
beforeEach(async () => {
  db = await Database.create();
  await db.run("CREATE TABLE t AS SELECT range AS id, range % 3 AS k FROM range(10)");
});
afterEach(() => db.close());

describe("Source.where", () => {
  it("given a condition and a limit, when queried, projected and streamed, then every view has the same rows in input order", async () => {
    const source = (await Source.open(db, { from: "t", label: "t", limit: 8 })).where("k <> 0");
    const expected = [1n, 2n, 4n, 5n, 7n];
    expect((await db.rows(`SELECT id FROM ${source.project(["id"])}`)).map((r) => r.id)).toEqual(expected);
    const streamed: bigint[] = [];
    for await (const batch of source.batches([{ name: "id", type: "int64" }], 2))
      streamed.push(...(batch.columns[0]!.data as BigInt64Array));
    expect(streamed).toEqual(expected);
    // Row numbers stay input row numbers, counted before the condition.
    const numbered = await db.rows(`SELECT id, __mlbatch_row FROM ${source.query("id", true)}`);
    expect(numbered.map((r) => [r.id, r.__mlbatch_row])).toEqual(expected.map((id) => [id, id]));
  });

  it("given two conditions, when chained, then rows meet both", async () => {
    const source = (await Source.open(db, { from: "t", label: "t" })).where("k <> 0").where("id > 4");
    expect((await db.rows(`SELECT id FROM ${source.query()}`)).map((r) => r.id)).toEqual([5n, 7n, 8n]);
    expect(source.condition).toBe("(k <> 0) AND (id > 4)");
  });
});

describe("Source.batches, text", () => {
  it("given text short and long, repeated, missing, multi-byte or led by a byte-order mark, when streamed, then each value is DuckDB's own", async () => {
    const values = [
      "2011-01-01",
      "2011-01-01",
      "2011-01-01",
      null,
      "2011-01-02",
      "",
      "",
      "twelve bytes",
      "thirteen byte",
      "a longer text than twelve bytes",
      "a longer text than twelve bytes",
      "café",
      "日本",
      "\uFEFFbom",
      "\uFEFFbom",
      "2011-01-01",
    ];
    // Across chunks (DuckDB's 2,048 rows), with runs that cross a chunk's end.
    const rows = Array.from({ length: 5000 }, (_, i) => values[Math.floor(i / 7) % values.length]!);
    const list = rows.map((v) => (v === null ? "NULL" : `'${v.replaceAll("'", "''")}'`)).join(", ");
    await db.run(
      `CREATE TABLE s AS SELECT unnest([${list}]::VARCHAR[]) AS v, unnest(range(${rows.length})) AS i`,
    );
    const source = await Source.open(db, { from: "(SELECT v FROM s ORDER BY i)", label: "s" });
    const expected = (await db.rows("SELECT v FROM s ORDER BY i")).map((r) => {
      const v = r.v as string | null;
      return v === null ? "" : v;
    });
    const streamed: string[] = [];
    for await (const batch of source.batches([{ name: "v", type: "string" }], 3000))
      streamed.push(...(batch.columns[0]!.data as string[]));
    expect(streamed).toEqual(expected);
    expect(streamed.slice(0, 28)).toEqual(
      rows.slice(0, 28).map((v) => (v === null ? "" : v.replace(/^\uFEFF/, ""))),
    );
  });
});

describe("Database.withThreads", () => {
  const threads = async () => Number((await db.rows("SELECT current_setting('threads') AS t"))[0]!.t);

  it("given work run with one thread, then DuckDB has one while it runs and its own count after, even when the work fails", async () => {
    const own = await threads();
    expect(await db.withThreads(1, () => threads())).toBe(1);
    expect(await threads()).toBe(own);
    await expect(
      db.withThreads(1, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await threads()).toBe(own);
  });
});

describe("Source.batches, numbers", () => {
  it("given a column of every feed type, when streamed in batches that split DuckDB's chunks, then each value is DuckDB's own cast of it", async () => {
    // 5,000 rows: three chunks of DuckDB's, in batches of 1,500 that end inside them.
    await db.run(
      `CREATE TABLE n AS SELECT range AS i, (range * 7919) % 255 - 127 AS v, range / 7.0 AS f FROM range(5000)`,
    );
    const requests = [
      { name: "v", type: "int8" },
      { name: "v", type: "int16" },
      { name: "i", type: "int32" },
      { name: "i", type: "int64" },
      { name: "u", type: "uint8" },
      { name: "f", type: "float32" },
      { name: "f", type: "float64" },
      { name: "v", type: "bool" },
    ] as const;
    // u: a column that fits uint8.
    const source = await Source.open(db, { from: "(SELECT i, v, f, i % 256 AS u FROM n)", label: "n" });
    const streamed: unknown[][] = requests.map(() => []);
    for await (const batch of source.batches(requests, 1500)) {
      for (const [i, c] of batch.columns.entries())
        streamed[i]!.push(...Array.from(c.data as ArrayLike<unknown>));
    }
    const expected = await db.rows(
      `SELECT v::TINYINT AS a, v::SMALLINT AS b, i::INTEGER AS c, i::BIGINT AS d, (i % 256)::UTINYINT AS e,
         f::FLOAT AS g, f::DOUBLE AS h, v::BOOLEAN AS k FROM n`,
    );
    ["a", "b", "c", "d", "e", "g", "h", "k"].forEach((name, i) => {
      // Booleans are fed as 0 and 1.
      const want = expected.map((row) => (typeof row[name] === "boolean" ? Number(row[name]) : row[name]));
      expect(streamed[i], requests[i]!.type).toEqual(want);
    });
  });
});
