import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { validateInputs } from "../../src/data/schema.js";
import { BIKES, INPUTS_TEST, query, removeDir, reportedError, tempDir } from "../helpers.js";
import { FaultProxy } from "../registry/rest-proxy.js";
import { type Moto, startMoto, useEnv } from "./moto.js";
import { heldBytes, runSampled } from "./spool.js";

let moto: Moto;
let dir: string;
let restore: (() => void) | undefined;
/** The bikes test set ten times over (34,760 rows), ids renumbered, in 9 row groups of 4,096 rows or less. */
let input: string;
let size: number;
/**
 * The most the spool may hold: two row groups' stand-ins and the first file's footer (each stand-in holds
 * the footer too), each region rounded up to a few 4 KiB blocks.
 */
let bound: number;

function job(inputs: string, outputs: string, extra = ""): string[] {
  return [
    "run",
    join(BIKES, "confs", "inference.yaml"),
    "-e",
    `job: {inputs: {path: '${inputs}'}, outputs: {path: '${outputs}'}, id_columns: [instant]${extra}}`,
  ];
}

beforeAll(async () => {
  moto = await startMoto(["data"]);
  restore = useEnv(moto.env);
  dir = tempDir("mlbatch-s3-single-");
  input = join(dir, "inputs.parquet");
  await query(
    `COPY (SELECT * EXCLUDE (instant), (row_number() OVER ())::BIGINT AS instant
       FROM (SELECT t.* FROM range(10) r, '${INPUTS_TEST}' t ORDER BY r.range, t.instant))
     TO '${input}' (FORMAT parquet, ROW_GROUP_SIZE 3000)`,
  );
  size = statSync(input).size;
  const [groups] = await query(
    `SELECT count(DISTINCT row_group_id)::INT AS n FROM parquet_metadata('${input}')`,
  );
  expect(groups?.n).toBe(9);
  const first = "least(coalesce(nullif(dictionary_page_offset, 0), data_page_offset), data_page_offset)";
  const [span] = await query(
    `SELECT max(e - s)::INT AS widest FROM (SELECT row_group_id, min(${first}) AS s, max(${first} + total_compressed_size) AS e FROM parquet_metadata('${input}') GROUP BY row_group_id)`,
  );
  const tail = readFileSync(input).subarray(-8).readUInt32LE(0) + 8;
  bound = 2 * Number(span?.widest) + 3 * tail + 12 * 4096;
  expect(bound).toBeLessThan(size / 2);
  await moto.store.putFile("s3://data/single/inputs.parquet", input);
}, 60_000);
afterAll(async () => {
  restore?.();
  await moto?.stop();
  removeDir(dir);
});

describe("a single run over s3:// Parquet", () => {
  it("given an object of 9 row groups, when it is validated and streamed, then every row comes in order and the spool never holds more than two row groups", async () => {
    const db = await Database.create();
    try {
      const source = await new ParquetReader({ path: "s3://data/single/inputs.parquet" }).open(db);
      // Constraints broken in the first two row groups, the last one, and all over: the report's counts and
      // first rows are the file's.
      const constraints = {
        instant: { gt: 5000, lt: 34_000, nullable: true },
        hr: { le: 22, nullable: true },
      };
      const remote = await validateInputs(db, source, [], "m", { constraints, idColumns: ["instant"] });
      const local = await validateInputs(db, await new ParquetReader({ path: input }).open(db), [], "m", {
        constraints,
        idColumns: ["instant"],
      });
      expect(remote.report.rows).toEqual(local.report.rows);
      expect(remote.report.rows.invalid).toBeGreaterThan(5760);
      expect(remote.report.problems).toEqual(local.report.problems);
      let peak = 0;
      const ids: number[] = [];
      const temps: number[] = [];
      const requests = [
        { name: "instant", type: "int64" },
        { name: "temp", type: "float64" },
      ] as const;
      for await (const batch of source.where("hr <> 5").batches(requests, 1000)) {
        peak = Math.max(peak, heldBytes(db.scratch()));
        ids.push(...Array.from(batch.columns[0]!.data as BigInt64Array, Number));
        temps.push(...(batch.columns[1]!.data as Float64Array));
      }
      const want = await query(
        `SELECT instant::INT AS instant, temp FROM '${input}' WHERE hr <> 5 ORDER BY instant`,
      );
      expect(ids).toEqual(want.map((r) => r.instant));
      expect(temps).toEqual(want.map((r) => r.temp));
      // Two row groups of nine and the footer at most: well under the object.
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThan(bound);
      // Every part is removed once read: the first file's footer is all that is left.
      expect(heldBytes(db.scratch())).toBeLessThan(size / 10);
    } finally {
      db.close();
    }
  });

  it("given row groups of 100,000 rows, when they are streamed in batches, then no part ends early while the next one is fetched", async () => {
    const file = join(dir, "long.parquet");
    await query(
      `COPY (SELECT i, random() AS x FROM range(1000000) t(i)) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 100000)`,
    );
    await moto.store.putFile("s3://data/single/long.parquet", file);
    const db = await Database.create();
    try {
      const source = await new ParquetReader({ path: "s3://data/single/long.parquet" }).open(db);
      let rows = 0;
      let ids = 0;
      for await (const batch of source.batches([{ name: "i", type: "float64" }], 65_536)) {
        rows += batch.length;
        for (const v of batch.columns[0]!.data as Float64Array) ids += v;
      }
      expect({ rows, ids }).toEqual({ rows: 1_000_000, ids: (999_999 * 1_000_000) / 2 });
    } finally {
      db.close();
    }
  }, 60_000);

  it("given a limit inside the fourth row group, then the parts after it are not fetched, and the rows and their numbers are the file's first", async () => {
    const db = await Database.create();
    try {
      const source = await new ParquetReader({ path: "s3://data/single/inputs.parquet", limit: 13_500 }).open(
        db,
      );
      const rows = await source.passes(async (query) => {
        const [found] = await db.rows(
          `SELECT count(*)::INT AS n, max(__mlbatch_row)::INT AS last, sum(instant)::BIGINT AS ids FROM ${query("instant", true)}`,
        );
        return found;
      });
      // Row groups of 4,096 rows (DuckDB rounds 3,000 up to its vectors): the fourth holds the limit,
      // the others are never fetched.
      expect(rows.map((r) => r?.n)).toEqual([4096, 4096, 4096, 1212]);
      expect(rows.at(-1)?.last).toBe(13_499);
      const ids = rows.reduce((sum, r) => sum + Number(r?.ids), 0);
      const [want] = await query(
        `SELECT sum(instant)::BIGINT AS ids FROM (SELECT instant FROM '${input}' LIMIT 13500)`,
      );
      expect(ids).toBe(Number(want?.ids));
    } finally {
      db.close();
    }
  });

  it("given the bikes job from and to s3://, then its predictions equal the local run's row for row, and its spool never holds more than two row groups and a footer", async () => {
    const local = join(dir, "local.parquet");
    const ran = await runSampled(job(input, local), moto.env, join(dir, "tmp-local"));
    expect(ran.code, ran.stderr).toBe(0);
    const remote = await runSampled(
      job("s3://data/single/inputs.parquet", "s3://data/single/predictions.parquet"),
      moto.env,
      join(dir, "tmp-s3"),
    );
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.peak).toBeGreaterThan(0);
    expect(remote.peak).toBeLessThan(bound);
    const fetched = join(dir, "fetched.parquet");
    await moto.store.download("s3://data/single/predictions.parquet", fetched);
    const [diff] = await query(
      `SELECT count(*)::INT AS n, (SELECT count(*)::INT FROM '${local}') AS rows FROM
         (SELECT * FROM '${local}' EXCEPT ALL SELECT * FROM '${fetched}')`,
    );
    expect(diff).toEqual({ n: 0, rows: 34_760 });
    const order = await query(
      `SELECT count(*)::INT AS n FROM (SELECT instant, row_number() OVER () AS i FROM '${fetched}') WHERE instant <> i`,
    );
    expect(order[0]?.n).toBe(0);
  }, 120_000);
});

describe("a single run over s3:// Parquet that sets invalid rows aside", () => {
  it("given on_invalid: quarantine, when run from s3://, then the quarantine is written row group by row group, and the predictions and the quarantine equal the local run's", async () => {
    const validation = (out: string) =>
      `, validation: {on_invalid: quarantine, constraints: {hr: {le: 20}}, quarantine: {KIND: ParquetWriter, path: '${out}'}}`;
    const outputs = { local: join(dir, "q-local.parquet"), remote: join(dir, "q-remote.parquet") };
    const quarantined = {
      local: join(dir, "q-local-bad.parquet"),
      remote: join(dir, "q-remote-bad.parquet"),
    };
    const local = await runSampled(
      job(input, outputs.local, validation(quarantined.local)),
      moto.env,
      join(dir, "tmp-q1"),
    );
    expect(local.code, local.stderr).toBe(0);
    const remote = await runSampled(
      job("s3://data/single/inputs.parquet", outputs.remote, validation(quarantined.remote)),
      moto.env,
      join(dir, "tmp-q2"),
    );
    expect(remote.code, remote.stderr).toBe(0);
    // The quarantine is one more pass, part by part: the spool never held the object.
    expect(remote.peak).toBeGreaterThan(0);
    expect(remote.peak).toBeLessThan(bound);
    for (const [a, b] of [
      [outputs.local, outputs.remote],
      [quarantined.local, quarantined.remote],
    ] as const) {
      const [diff] = await query(
        `SELECT count(*)::INT AS n, (SELECT count(*)::INT FROM '${a}') AS rows FROM (SELECT * FROM '${a}' EXCEPT ALL SELECT * FROM '${b}')`,
      );
      expect(diff?.n).toBe(0);
      expect(diff?.rows).toBeGreaterThan(1000);
    }
    const [order] = await query(
      `SELECT count(*)::INT AS n FROM (SELECT mlbatch_row, lag(mlbatch_row) OVER () AS before FROM '${quarantined.remote}') WHERE mlbatch_row <= before`,
    );
    expect(order?.n).toBe(0);
  }, 120_000);
});

describe("faults of a single run over s3:// Parquet", () => {
  let proxy: FaultProxy;
  /** The Range header of the 6th row group's column chunks. */
  let range: RegExp;
  beforeAll(async () => {
    proxy = await FaultProxy.start(moto.endpoint);
    const first = "least(coalesce(nullif(dictionary_page_offset, 0), data_page_offset), data_page_offset)";
    const [span] = await query(
      `SELECT min(${first})::BIGINT AS start FROM parquet_metadata('${input}') WHERE row_group_id = 5`,
    );
    range = new RegExp(`^bytes=${span?.start}-`);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  const env = () => ({
    ...moto.env,
    AWS_ENDPOINT_URL: proxy.uri,
    MLBATCH_S3_TIMEOUT: "2",
    AWS_MAX_ATTEMPTS: "3",
  });

  it("given a row group's ranged read that stalls mid-body once, then it is read again and the run's predictions are whole", async () => {
    proxy.reset();
    const stall = { match: /GetObject/, range, fault: { kind: "stall" } as const, times: 1 };
    proxy.inject(stall);
    const ran = await runSampled(
      job("s3://data/single/inputs.parquet", "s3://data/single/stalled.parquet"),
      env(),
      join(dir, "tmp-stall"),
    );
    expect(ran.code, ran.stderr).toBe(0);
    expect(stall.times).toBe(0); // the row group's read did stall
    const fetched = join(dir, "stalled.parquet");
    await moto.store.download("s3://data/single/stalled.parquet", fetched);
    expect((await query(`SELECT count(*)::INT AS n FROM '${fetched}'`))[0]?.n).toBe(34_760);
  }, 120_000);

  it("given a row group's ranged read that is reset on every try, when the job runs, then it fails with E_READ naming the object, and nothing is written", async () => {
    proxy.reset();
    proxy.inject({ match: /GetObject/, range, fault: { kind: "truncate" } });
    const ran = await runSampled(
      job("s3://data/single/inputs.parquet", "s3://data/single/reset.parquet"),
      env(),
      join(dir, "tmp-reset"),
    );
    expect(ran.code).toBe(1);
    expect(reportedError(ran.stderr)).toMatch(
      /E_READ.*cannot read bytes \d+-\d+ of "s3:\/\/data\/single\/inputs\.parquet": the download broke off.*\(3 tries\)/,
    );
    expect(await moto.store.head("s3://data/single/reset.parquet")).toBeUndefined();
    // Nothing is left behind in the run's scratch either.
    expect(readdirSync(join(dir, "tmp-reset")).filter((n) => n.startsWith("mlbatch-spool-"))).toEqual([]);
  }, 120_000);
});
