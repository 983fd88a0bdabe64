/**
 * The object store's pure parts: URIs, the environment's settings (endpoint, path-style addressing,
 * attempts, timeout) and DuckDB's glob syntax over keys; and the two-committer race of a conditional put.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { globBase, globPattern } from "../../src/data/object-store/glob.js";
import { objectStoreSettings } from "../../src/data/object-store/settings.js";
import { childUri, isObjectUri, parseObjectUri } from "../../src/data/object-store/uri.js";
import { checkOutputsApart } from "../../src/data/overlap.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { failure, query, removeDir, tempDir } from "../helpers.js";
import { type Moto, startMoto, useEnv } from "./moto.js";

describe("s3:// URIs", () => {
  it("given URIs, then bucket and key are split, and anything else is refused as E_CONFIG", async () => {
    expect(parseObjectUri("s3://data/in/day=1/a.parquet")).toEqual({
      bucket: "data",
      key: "in/day=1/a.parquet",
    });
    expect(parseObjectUri("s3://data")).toEqual({ bucket: "data", key: "" });
    expect(childUri("s3://data/out/", "_SUCCESS")).toBe("s3://data/out/_SUCCESS");
    expect(isObjectUri("data/s3://x")).toBe(false);
    expect((await failure(Promise.resolve().then(() => parseObjectUri("s3:///key")))).code).toBe("E_CONFIG");
  });
});

describe("object store settings", () => {
  it("given a custom endpoint, then path-style addressing is on unless AWS_S3_FORCE_PATH_STYLE says otherwise", () => {
    expect(objectStoreSettings({ AWS_ENDPOINT_URL: "http://minio:9000" })).toEqual({
      endpoint: "http://minio:9000",
      region: "us-east-1",
      forcePathStyle: true,
      timeout: 60,
      maxAttempts: 5,
    });
    expect(
      objectStoreSettings({ AWS_ENDPOINT_URL: "http://a", AWS_ENDPOINT_URL_S3: "http://b" }).endpoint,
    ).toBe("http://b");
    expect(
      objectStoreSettings({ AWS_ENDPOINT_URL: "http://a", AWS_S3_FORCE_PATH_STYLE: "false" }).forcePathStyle,
    ).toBe(false);
    expect(objectStoreSettings({}).forcePathStyle).toBe(false);
    expect(objectStoreSettings({ AWS_S3_FORCE_PATH_STYLE: "true" }).forcePathStyle).toBe(true);
    expect(
      objectStoreSettings({
        AWS_DEFAULT_REGION: "eu-west-3",
        AWS_MAX_ATTEMPTS: "2",
        MLBATCH_S3_TIMEOUT: "5",
      }),
    ).toMatchObject({
      region: "eu-west-3",
      maxAttempts: 2,
      timeout: 5,
    });
    expect(objectStoreSettings({ AWS_MAX_ATTEMPTS: "zero", MLBATCH_S3_TIMEOUT: "-1" })).toMatchObject({
      maxAttempts: 5,
      timeout: 60,
    });
  });
});

describe("globs over keys", () => {
  it("given DuckDB's glob syntax, then keys match within a name, across folders with **, and in classes", () => {
    expect(globBase("in/day=*/part-*.parquet")).toBe("in");
    expect(globBase("*.parquet")).toBe("");
    const pattern = globPattern("in/day=*/part-?.parquet");
    expect(pattern.test("in/day=1/part-0.parquet")).toBe(true);
    expect(pattern.test("in/day=1/x/part-0.parquet")).toBe(false);
    expect(globPattern("in/**/*.csv").test("in/a/b/c.csv")).toBe(true);
    expect(globPattern("in/[!a]*.csv").test("in/b.csv")).toBe(true);
    expect(globPattern("in/[!a]*.csv").test("in/a.csv")).toBe(false);
    expect(globPattern("in/a+b.csv").test("in/aab.csv")).toBe(false);
  });
});

describe("outputs apart from s3:// inputs", () => {
  const refused = async (input: string, output: string) =>
    (await failure(checkOutputsApart(input, [{ key: "outputs.path", path: output }]))).message;

  it("given an output in, at or around an s3:// input, then it is refused; elsewhere, or local, it is not", async () => {
    expect(await refused("s3://d/in/*.parquet", "s3://d/in/p.parquet")).toMatch(/is inside the input/);
    expect(await refused("s3://d/in/", "s3://d/in/day=1/p.parquet")).toMatch(/is inside the input/);
    expect(await refused("s3://d/in/a.parquet", "s3://d/in/a.parquet")).toMatch(/is the input/);
    expect(await refused("s3://d/in/a.parquet", "s3://d/")).toMatch(/holds the input/);
    await checkOutputsApart("s3://d/in/*.parquet", [
      { key: "outputs.path", path: "s3://d/out/p.parquet" },
      { key: "validation.report", path: "s3:/d/in/p.parquet" },
      { key: "report", path: "s3://other/in/p.parquet" },
    ]);
  });
});

describe("conditional puts and ranged reads on moto", () => {
  let moto: Moto;
  let restore: () => void;
  let dir: string;
  beforeAll(async () => {
    moto = await startMoto(["data"]);
    restore = useEnv(moto.env);
    dir = tempDir("mlbatch-s3-store-");
  }, 60_000);
  afterAll(async () => {
    restore?.();
    await moto?.stop();
    removeDir(dir);
  });

  it("given 8 writers creating one key at once with If-None-Match, then exactly one wins and its text stays", async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        moto.store.putText("s3://data/race/_SUCCESS", `writer ${i}\n`, { ifNoneMatch: true }),
      ),
    );
    expect(outcomes.filter((o) => o === "created")).toHaveLength(1);
    const winner = outcomes.indexOf("created");
    expect((await moto.store.getText("s3://data/race/_SUCCESS"))?.text).toBe(`writer ${winner}\n`);
  });

  it("given a Parquet object of many row groups, when one row group is opened, then only it and the footer are fetched, and its rows are the file's", async () => {
    const file = join(dir, "groups.parquet");
    await query(
      `COPY (SELECT i, random() AS x, md5(i::VARCHAR) AS s FROM range(1000000) t(i)) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 100000)`,
    );
    await moto.store.putFile("s3://data/groups/g.parquet", file);
    const size = statSync(file).size;
    const db = await Database.create();
    try {
      const reader = new ParquetReader({ path: "s3://data/groups/g.parquet" });
      const cut = await reader.cut(db);
      const units = cut.files[0]!.units;
      expect(units.length).toBeGreaterThanOrEqual(10);
      const unit = units[3]!;
      const source = await reader.openUnit(db, unit, false);
      const [got] = await db.rows(
        `SELECT count(*)::INT AS n, sum(i)::BIGINT AS ids, string_agg(s, '' ORDER BY i) AS s FROM ${source.query()}`,
      );
      const [want] = await query(
        `SELECT count(*)::INT AS n, sum(i)::BIGINT AS ids, string_agg(s, '' ORDER BY i) AS s FROM (SELECT * FROM '${file}' LIMIT ${unit.rows} OFFSET ${unit.firstRow})`,
      );
      expect(got).toEqual(want);
      // The sparse stand-in holds the footer and one row group of ten: its blocks, not the file's size.
      const copies = readdirSync(join(db.scratch(), "row-groups", "3"), { recursive: true })
        .map((name) => join(db.scratch(), "row-groups", "3", String(name)))
        .filter((path) => statSync(path).isFile());
      expect(copies).toHaveLength(1);
      const copy = statSync(copies[0]!);
      expect(copy.size).toBe(size);
      expect(copy.blocks * 512).toBeLessThan(size / 4);
    } finally {
      db.close();
    }
  });

  it("given a Parquet object of many row groups, when it is described for a plan, then only its footer is fetched, and its columns and pandas index are those a run opens", async () => {
    const file = join(dir, "described.parquet");
    await query(
      `COPY (SELECT i, random() AS x, md5(i::VARCHAR) AS s FROM range(1000000) t(i)) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 100000)`,
    );
    await moto.store.putFile("s3://data/described/g.parquet", file);
    await moto.store.putFile("s3://data/described/bikes.parquet", "examples/bikes/data/inputs_test.parquet");
    const size = statSync(file).size;
    const db = await Database.create();
    try {
      const described = await new ParquetReader({ path: "s3://data/described/g.parquet" }).describe(db);
      expect(described.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
        "i BIGINT",
        "x DOUBLE",
        "s VARCHAR",
      ]);
      // What is on disk: the sparse stand-in's blocks (the footer), nothing near the object's size.
      const held = readdirSync(db.scratch(), { recursive: true })
        .map((name) => statSync(join(db.scratch(), String(name))))
        .filter((info) => info.isFile())
        .reduce((sum, info) => sum + info.blocks * 512, 0);
      expect(held).toBeLessThan(size / 20);
      const bikes = new ParquetReader({ path: "s3://data/described/bikes.parquet" });
      const opened = await bikes.open(db);
      const footer = await bikes.describe(db);
      expect(footer.idColumns).toEqual(["instant"]);
      expect(footer.columns).toEqual(opened.columns);
    } finally {
      db.close();
    }
  });

  it("given an If-Match on a tag that is no longer the object's, then the put is refused and the object unchanged", async () => {
    await moto.store.putText("s3://data/match/m", "one");
    const first = await moto.store.getText("s3://data/match/m");
    await moto.store.putText("s3://data/match/m", "two");
    expect(await moto.store.putText("s3://data/match/m", "three", { ifMatch: first!.etag })).toBe("exists");
    expect((await moto.store.getText("s3://data/match/m"))?.text).toBe("two");
  });
});
