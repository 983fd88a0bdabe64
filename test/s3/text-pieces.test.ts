import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { CsvReader, type CsvReaderOptions } from "../../src/data/readers/csv-reader.js";
import { JsonLinesReader } from "../../src/data/readers/json-lines-reader.js";
import type { Source } from "../../src/data/source.js";
import { BIKES, cli, failure, python, query, ROOT, removeDir, reportedError, tempDir } from "../helpers.js";
import { FaultProxy } from "../registry/rest-proxy.js";
import { type Moto, startMoto, useEnv } from "./moto.js";
import { heldBytes, runSampled } from "./spool.js";

const PYTHON = process.env.MLBATCH_TEST_PYTHON ?? join(ROOT, ".venv", "bin", "python");
/** Pieces of 4 KiB: the test files cut into dozens. */
const PIECE = 4096;

let moto: Moto;
let dir: string;
let restore: (() => void) | undefined;

/** Every row of the source with its input row number, pass by pass, and the most the spool held. */
async function rowsOf(db: Database, source: Source) {
  let peak = 0;
  const passes = await source.passes(async (part) => {
    peak = Math.max(peak, heldBytes(db.scratch()));
    return db.rows(`SELECT * FROM ${part("*", true)}`);
  });
  return { rows: passes.flat(), pieces: passes.length, peak };
}

/** The rows a reader gives of the local file and of the object, and how the object's were read. */
async function bothWays(options: Omit<CsvReaderOptions, "path">, file: string, uri: string, json = false) {
  const db = await Database.create();
  try {
    const open = (path: string) =>
      json
        ? new JsonLinesReader({ path, ...options }).open(db)
        : new CsvReader({ path, ...options }).open(db);
    const local = await rowsOf(db, await open(file));
    const remote = await rowsOf(db, await open(uri));
    return { local, remote, left: heldBytes(join(db.scratch(), "text-pieces")) };
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  moto = await startMoto(["data"]);
  restore = useEnv({ ...moto.env, MLBATCH_S3_PIECE_BYTES: String(PIECE) });
  dir = tempDir("mlbatch-s3-text-");
  // Made by pandas: text with the delimiter, quotes, newlines (LF and CRLF) and non-ASCII in it, nulls.
  python(
    PYTHON,
    `
import sys, numpy as np, pandas as pd
d = sys.argv[1]
rng = np.random.default_rng(7)
n = 3000
notes = np.array(['plain', 'a, comma', 'say "hi"', 'two\\nlines', 'crlf\\r\\ninside', 'ünïcødé', '', 'x' * 300])
df = pd.DataFrame({
    'id': np.arange(n),
    'x': np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
    'note': notes[rng.integers(0, len(notes), n)],
    'k': rng.integers(0, 5, n),
})
df.to_csv(f'{d}/quoted.csv', index=False, lineterminator='\\r\\n', encoding='utf-8-sig')
df.to_csv(f'{d}/escaped.csv', index=False, doublequote=False, escapechar='\\\\')
df.to_json(f'{d}/rows.jsonl.gz', orient='records', lines=True, compression='gzip')
bad = pd.DataFrame({'id': np.arange(n), 'n': np.arange(n).astype(str)})
bad.loc[2500, 'n'] = 'oops'
bad.to_csv(f'{d}/bad.csv', index=False)
`,
    [dir],
  );
  for (const name of ["quoted.csv", "escaped.csv", "rows.jsonl.gz", "bad.csv"]) {
    await moto.store.putFile(`s3://data/text/${name}`, join(dir, name));
  }
}, 120_000);
afterAll(async () => {
  restore?.();
  await moto?.stop();
  removeDir(dir);
});

describe("s3:// CSV and JSON Lines read piece by piece", () => {
  it("given CSV with quoted newlines, doubled quotes, CRLF and a byte order mark, then the pieces give the local file's rows and row numbers, and the spool holds two pieces at most", async () => {
    const { local, remote, left } = await bothWays({}, join(dir, "quoted.csv"), "s3://data/text/quoted.csv");
    expect(remote.rows).toEqual(local.rows);
    expect(remote.rows).toHaveLength(3000);
    const size = statSync(join(dir, "quoted.csv")).size;
    expect(remote.pieces).toBeGreaterThan(size / PIECE / 2);
    // Two pieces (each at most a piece and a record of ~310 bytes) and their blocks.
    expect(remote.peak).toBeLessThanOrEqual(2 * (PIECE + 4096 + 4096));
    expect(remote.peak).toBeLessThan(size / 10);
    expect(left).toBe(0);
  });

  it("given CSV whose quotes are escaped with a backslash, then the pieces give the local file's rows", async () => {
    const options = { escape: "\\" };
    const { local, remote } = await bothWays(options, join(dir, "escaped.csv"), "s3://data/text/escaped.csv");
    expect(remote.rows).toEqual(local.rows);
    expect(remote.rows.filter((r) => String(r.note).includes('"'))).not.toHaveLength(0);
    expect(remote.pieces).toBeGreaterThan(10);
  });

  it("given gzipped JSON Lines, then the pieces (gunzipped as the object is read) give the local file's rows", async () => {
    const { local, remote } = await bothWays(
      {},
      join(dir, "rows.jsonl.gz"),
      "s3://data/text/rows.jsonl.gz",
      true,
    );
    expect(remote.rows).toEqual(local.rows);
    expect(remote.rows).toHaveLength(3000);
    expect(remote.pieces).toBeGreaterThan(10);
  });

  it("given a limit, then the rows and their numbers are the file's first, and the pieces after them are not read", async () => {
    const { local, remote } = await bothWays(
      { limit: 1234 },
      join(dir, "quoted.csv"),
      "s3://data/text/quoted.csv",
    );
    expect(remote.rows).toEqual(local.rows);
    expect(remote.rows.at(-1)?.__mlbatch_row).toBe(1233n);
    const all = await bothWays({}, join(dir, "quoted.csv"), "s3://data/text/quoted.csv");
    expect(remote.pieces).toBeLessThan(all.remote.pieces / 2);
  });

  it("given a value of the wrong type in a later piece, then the error names the object and the line a read of the whole file names", async () => {
    const db = await Database.create();
    try {
      const read = async (path: string) => {
        const source = await new CsvReader({ path, types: { n: "BIGINT" } }).open(db);
        return failure(
          source.passes((part) =>
            db.rows(`SELECT sum(n) FROM ${part()}`).catch(async (error: unknown) => {
              throw await source.readFailure(error);
            }),
          ),
        );
      };
      const local = await read(join(dir, "bad.csv"));
      const remote = await read("s3://data/text/bad.csv");
      expect(local.message).toMatch(/line 2502 has "oops" in column "n"/);
      expect(remote.code).toBe("E_READ");
      expect(remote.message).toBe(local.message.replaceAll(join(dir, "bad.csv"), "s3://data/text/bad.csv"));
      expect(heldBytes(join(db.scratch(), "text-pieces"))).toBe(0);
    } finally {
      db.close();
    }
  });

  it("given a gzip object cut short, then the read fails with E_READ naming the object and its damaged data, and no piece is left", async () => {
    const whole = readFileSync(join(dir, "rows.jsonl.gz"));
    const cut = join(dir, "cut.jsonl.gz");
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    await moto.store.putFile("s3://data/cut/rows.jsonl.gz", cut);
    const db = await Database.create();
    try {
      const error = await failure(
        new JsonLinesReader({ path: "s3://data/cut/rows.jsonl.gz" })
          .open(db)
          .then((source) => source.passes((part) => db.rows(`SELECT count(*) FROM ${part()}`))),
      );
      expect(error.code).toBe("E_READ");
      expect(error.message).toMatch(
        /"s3:\/\/data\/cut\/rows\.jsonl\.gz": the gzip data is damaged \(unexpected end of file\)/,
      );
      expect(heldBytes(join(db.scratch(), "text-pieces"))).toBe(0);
    } finally {
      db.close();
    }
  });

  it("given two objects whose headers differ, then the read fails with E_READ naming both", async () => {
    await moto.store.putText("s3://data/two/a.csv", "id,x\n1,2\n");
    await moto.store.putText("s3://data/two/b.csv", "id,y\n3,4\n");
    const db = await Database.create();
    try {
      const error = await failure(
        new CsvReader({ path: "s3://data/two/" })
          .open(db)
          .then((source) => source.passes((part) => db.rows(`SELECT count(*) FROM ${part()}`))),
      );
      expect(error.code).toBe("E_READ");
      expect(error.message).toContain(
        'its header (id,y) differs from that of the first file "s3://data/two/a.csv" (id,x)',
      );
    } finally {
      db.close();
    }
  });
});

describe("the bikes job over s3:// CSV read piece by piece", () => {
  it("given the test set ten times over as CSV, then the predictions equal the local run's, and the spool never holds more than two pieces", async () => {
    const csv = join(dir, "bikes.csv");
    await query(
      `COPY (SELECT * EXCLUDE (instant), (row_number() OVER ())::BIGINT AS instant
         FROM (SELECT t.* FROM range(10) r, '${join(BIKES, "data", "inputs_test.parquet")}' t ORDER BY r.range, t.instant))
       TO '${csv}' (FORMAT csv, HEADER)`,
    );
    await moto.store.putFile("s3://data/bikes/inputs.csv", csv);
    const piece = 64 * 1024;
    const job = (inputs: string, outputs: string) => [
      "run",
      join(BIKES, "confs", "inference.yaml"),
      "-e",
      `job: {inputs: {KIND: CsvReader, path: '${inputs}', types: {dteday: VARCHAR}}, outputs: {path: '${outputs}'}, id_columns: [instant]}`,
    ];
    const local = join(dir, "local.parquet");
    const here = await runSampled(
      job(csv, local),
      { MLBATCH_S3_PIECE_BYTES: String(piece) },
      join(dir, "tmp-a"),
    );
    expect(here.code, here.stderr).toBe(0);
    const remote = await runSampled(
      job("s3://data/bikes/inputs.csv", join(dir, "remote.parquet")),
      { MLBATCH_S3_PIECE_BYTES: String(piece) },
      join(dir, "tmp-b"),
    );
    expect(remote.code, remote.stderr).toBe(0);
    const [diff] = await query(
      `SELECT count(*)::INT AS n, count(*) FILTER (a.instant IS DISTINCT FROM b.instant OR a.prediction IS DISTINCT FROM b.prediction)::INT AS other
       FROM '${local}' a POSITIONAL JOIN '${join(dir, "remote.parquet")}' b`,
    );
    expect(diff).toEqual({ n: 34_760, other: 0 });
    const size = statSync(csv).size;
    expect(remote.peak).toBeGreaterThan(0);
    expect(remote.peak).toBeLessThanOrEqual(2 * (piece + 4096 + 4096));
    expect(remote.peak).toBeLessThan(size / 5);
  }, 120_000);
});

describe("a sharded run over s3:// CSV", () => {
  it("given CSV objects (one gzipped) cut into pieces, when planned and run as 2 shards, then the manifest's parts equal the single run", async () => {
    const all = join(BIKES, "data", "inputs_test.parquet");
    const bounds = [13903, 15000, 16500, 17380];
    for (let k = 0; k < bounds.length - 1; k++) {
      const name = k === 1 ? `part-${k}.csv.gz` : `part-${k}.csv`;
      const file = join(dir, name);
      await query(
        `COPY (SELECT * FROM '${all}' WHERE instant > ${bounds[k]} AND instant <= ${bounds[k + 1]} ORDER BY instant) TO '${file}' (FORMAT csv, HEADER)`,
      );
      await moto.store.putFile(`s3://data/shard-in/${name}`, file);
    }
    const inputs =
      "inputs: {KIND: CsvReader, path: 's3://data/shard-in/', types: {dteday: VARCHAR}}, id_columns: [instant]";
    const conf = join(BIKES, "confs", "inference.yaml");
    const env = { ...moto.env, MLBATCH_S3_PIECE_BYTES: String(16 * 1024) };
    const single = join(dir, "shard-single.parquet");
    const one = cli(["run", conf, "-e", `job: {${inputs}, outputs: {path: '${single}'}}`], { env });
    expect(one.code, one.stderr).toBe(0);
    for (const i of [0, 1]) {
      const shard = cli(
        ["run", conf, "--shard", `${i}/2`, "-e", `job: {${inputs}, outputs: {path: 's3://data/shard-out/'}}`],
        { env },
      );
      expect(shard.code, shard.stderr).toBe(0);
    }
    const manifest = JSON.parse((await moto.store.getText("s3://data/shard-out/_SUCCESS"))!.text) as {
      parts: { file: string }[];
      rows: { read: number };
    };
    const files: string[] = [];
    for (const [k, part] of manifest.parts.entries()) {
      const file = join(dir, `shard-part-${k}.parquet`);
      await moto.store.download(`s3://data/shard-out/${part.file}`, file);
      files.push(`'${file}'`);
    }
    const [compare] = await query(
      `SELECT count(*)::INT AS n, count(*) FILTER (s.instant IS DISTINCT FROM o.instant OR s.prediction IS DISTINCT FROM o.prediction)::INT AS other
       FROM read_parquet([${files.join(", ")}]) s POSITIONAL JOIN '${single}' o`,
    );
    const [rows] = await query(`SELECT count(*)::INT AS n FROM '${single}'`);
    expect(compare).toEqual({ n: rows?.n, other: 0 });
    expect(manifest.rows.read).toBe(rows?.n);
  }, 180_000);
});

describe("faults of a run over s3:// CSV read piece by piece", () => {
  let proxy: FaultProxy;
  const job = (outputs: string) => [
    "run",
    join(BIKES, "confs", "inference.yaml"),
    "-e",
    `job: {inputs: {KIND: CsvReader, path: 's3://data/faults/inputs.csv.gz', types: {dteday: VARCHAR}}, outputs: {path: '${outputs}'}, id_columns: [instant]}`,
  ];
  beforeAll(async () => {
    const csv = join(dir, "faults.csv.gz");
    await query(
      `COPY (SELECT * FROM '${join(BIKES, "data", "inputs_test.parquet")}') TO '${csv}' (FORMAT csv, HEADER)`,
    );
    await moto.store.putFile("s3://data/faults/inputs.csv.gz", csv);
    proxy = await FaultProxy.start(moto.endpoint);
  });
  afterAll(async () => {
    await proxy?.close();
  });
  const env = () => ({
    ...moto.env,
    AWS_ENDPOINT_URL: proxy.uri,
    MLBATCH_S3_TIMEOUT: "2",
    AWS_MAX_ATTEMPTS: "3",
    MLBATCH_S3_PIECE_BYTES: String(16 * 1024),
  });

  it("given a ranged read of the object that stalls mid-body once, then it is read again and every row is predicted", async () => {
    proxy.reset();
    const stall = { match: /GetObject/, range: /^bytes=0-/, fault: { kind: "stall" } as const, times: 1 };
    proxy.inject(stall);
    const out = join(dir, "faults-stalled.parquet");
    const ran = await runSampled(job(out), env(), join(dir, "tmp-stall"));
    expect(ran.code, ran.stderr).toBe(0);
    expect(stall.times).toBe(0);
    expect((await query(`SELECT count(*)::INT AS n FROM '${out}'`))[0]?.n).toBe(3476);
  }, 120_000);

  it("given a ranged read that is cut on every try, then the run fails with E_READ naming the bytes and the object, and leaves no output and no spool", async () => {
    proxy.reset();
    proxy.inject({ match: /GetObject/, range: /^bytes=0-/, fault: { kind: "truncate" } });
    const out = join(dir, "faults-reset.parquet");
    const ran = await runSampled(job(out), env(), join(dir, "tmp-reset"));
    expect(ran.code).toBe(1);
    expect(reportedError(ran.stderr)).toMatch(
      /E_READ.*cannot read bytes 0-\d+ of "s3:\/\/data\/faults\/inputs\.csv\.gz": the download broke off.*\(3 tries\)/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(dir, "tmp-reset")).filter((n) => n.startsWith("mlbatch-spool-"))).toEqual([]);
  }, 120_000);
});
