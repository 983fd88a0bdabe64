/**
 * The bikes job with inputs and outputs on a real S3 API server (moto): the same predictions as the local
 * job, for Parquet, CSV (gzip) and JSON Lines inputs, globs and Hive folders; mode error and overwrite.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { BIKES, cli, python, query, removeDir, reportedError, tempDir } from "../helpers.js";
import { type Moto, startMoto, useEnv } from "./moto.js";

const CONF = join(BIKES, "confs", "inference.yaml");
let moto: Moto;
let dir: string;
let local: string;
let restore: () => void;

function run(extra: string, env: Record<string, string> = moto.env) {
  return cli(["run", CONF, "-e", `job: {${extra}}`], { env });
}

/** The object downloaded to a local file. */
async function fetched(uri: string, name: string): Promise<string> {
  const target = join(dir, name);
  await moto.store.download(uri, target);
  return target;
}

/** Rows of `file` that differ from the local job's predictions, position by position. */
async function differences(file: string): Promise<Record<string, unknown> | undefined> {
  const [row] = await query(
    `SELECT count(*)::INT AS n, count(*) FILTER (a.instant IS DISTINCT FROM b.instant OR a.prediction IS DISTINCT FROM b.prediction)::INT AS other
     FROM '${file}' a POSITIONAL JOIN '${local}' b`,
  );
  return row;
}

beforeAll(async () => {
  moto = await startMoto(["data"]);
  restore = useEnv(moto.env);
  dir = tempDir("mlbatch-s3-bikes-");
  local = join(dir, "local.parquet");
  const done = cli(["run", CONF, "-e", `job: {outputs: {path: '${local}'}}`]);
  expect(done.code, done.stderr).toBe(0);
  await moto.store.putFile("s3://data/in/inputs_test.parquet", join(BIKES, "data", "inputs_test.parquet"));
  await moto.store.putFile("s3://data/csv/inputs_test.csv", join(BIKES, "data", "inputs_test.csv"));
  await moto.store.putFile(
    "s3://data/jsonl/inputs_test.jsonl.gz",
    join(BIKES, "data", "inputs_test.jsonl.gz"),
  );
  // A Hive folder: the input cut by season, one object per partition.
  for (const season of [1, 2, 3, 4]) {
    mkdirSync(join(dir, "hive", `season=${season}`), { recursive: true });
    const file = join(dir, "hive", `season=${season}`, "part-0.parquet");
    await query(
      `COPY (SELECT * EXCLUDE (season) FROM '${join(BIKES, "data", "inputs_test.parquet")}' WHERE season = ${season} ORDER BY instant) TO '${file}' (FORMAT parquet)`,
    );
    await moto.store.putFile(`s3://data/hive/season=${season}/part-0.parquet`, file);
  }
}, 180_000);

afterAll(async () => {
  restore?.();
  await moto?.stop();
  removeDir(dir);
});

describe("the bikes job on S3", () => {
  it("given inputs and outputs on s3://, when run with the standard AWS variables, then the predictions are the local job's", async () => {
    const done = run(
      "inputs: {path: 's3://data/in/inputs_test.parquet'}, outputs: {path: 's3://data/out/predictions.parquet', mode: error}",
    );
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain("Outputs Shape: (3476, 2)");
    const out = await fetched("s3://data/out/predictions.parquet", "out.parquet");
    expect(await differences(out)).toEqual({ n: 3476, other: 0 });
    // pandas reads it back indexed by instant, as the local output.
    const same = python(
      inject("python"),
      "import sys, pandas as pd; a, b = (pd.read_parquet(p) for p in sys.argv[1:]); print(a.equals(b), a.index.name)",
      [out, local],
    );
    expect(same.trim()).toBe("True instant");
  });

  it("given an existing s3:// output, when run with mode error, then it is refused and left as it was; overwrite replaces it", async () => {
    await moto.store.putText("s3://data/exists/predictions.parquet", "not parquet");
    const refused = run(
      "inputs: {path: 's3://data/in/inputs_test.parquet'}, outputs: {path: 's3://data/exists/predictions.parquet', mode: error}",
    );
    expect(refused.code).toBe(1);
    expect(reportedError(refused.stderr)).toMatch(
      /E_WRITE.*s3:\/\/data\/exists\/predictions.parquet.*already exists/,
    );
    expect((await moto.store.getText("s3://data/exists/predictions.parquet"))?.text).toBe("not parquet");
    const replaced = run(
      "inputs: {path: 's3://data/in/inputs_test.parquet'}, outputs: {path: 's3://data/exists/predictions.parquet', mode: overwrite}",
    );
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(
      await differences(await fetched("s3://data/exists/predictions.parquet", "replaced.parquet")),
    ).toEqual({
      n: 3476,
      other: 0,
    });
  });

  it("given CSV and gzipped JSON Lines inputs on s3://, when run, then the predictions are the local job's", async () => {
    for (const [name, extra] of [
      [
        "csv",
        "inputs: {KIND: CsvReader, path: 's3://data/csv/', types: {dteday: VARCHAR}}, id_columns: [instant]",
      ],
      ["jsonl", "inputs: {KIND: JsonLinesReader, path: 's3://data/jsonl/*.jsonl.gz'}, id_columns: [instant]"],
    ] as const) {
      const done = cli(
        [
          "run",
          CONF,
          join(BIKES, "confs", `from-${name}.yaml`),
          "-e",
          `job: {${extra}, outputs: {path: 's3://data/from-${name}.parquet'}}`,
        ],
        { env: moto.env },
      );
      expect(done.code, done.stderr).toBe(0);
      const out = await fetched(`s3://data/from-${name}.parquet`, `from-${name}.parquet`);
      expect(await differences(out)).toEqual({ n: 3476, other: 0 });
    }
  });

  it("given a Hive-partitioned folder on s3://, when read, then the output is the same folder's read locally, partition column included", async () => {
    const rest = "id_columns: [instant], passthrough: [season]";
    const done = run(
      `inputs: {path: 's3://data/hive/'}, outputs: {KIND: CsvWriter, path: 's3://data/hive-out/predictions.csv'}, ${rest}`,
    );
    expect(done.code, done.stderr).toBe(0);
    const out = await fetched("s3://data/hive-out/predictions.csv", "hive.csv");
    const here = join(dir, "hive-local.csv");
    const locally = run(
      `inputs: {path: '${join(dir, "hive")}'}, outputs: {KIND: CsvWriter, path: '${here}'}, ${rest}`,
    );
    expect(locally.code, locally.stderr).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(readFileSync(here, "utf8"));
    const [row] = await query(
      `SELECT count(*)::INT AS n, count(DISTINCT season)::INT AS seasons FROM read_csv('${out}')`,
    );
    expect(row).toEqual({ n: 3476, seasons: 3 });
    expect(readFileSync(out, "utf8").split("\n")[0]).toBe("instant,season,prediction");
  });

  it("given max_rows_per_file and an s3:// prefix, when written twice (overwrite), then the marker lists whole parts and the old ones are gone", async () => {
    const uri = "s3://data/parts";
    const write = () =>
      run(
        `inputs: {path: 's3://data/in/inputs_test.parquet'}, outputs: {path: '${uri}', max_rows_per_file: 1000, mode: overwrite}`,
      );
    const once = write();
    expect(once.code, once.stderr).toBe(0);
    const first = JSON.parse((await moto.store.getText(`${uri}/_SUCCESS`))!.text) as {
      files: string[];
      rows: number;
    };
    expect(first.rows).toBe(3476);
    expect(first.files).toHaveLength(4);
    expect(write().code).toBe(0);
    const second = JSON.parse((await moto.store.getText(`${uri}/_SUCCESS`))!.text) as { files: string[] };
    const keys = (await moto.store.list(`${uri}/`)).map((o) => o.uri.slice(uri.length + 1));
    expect(keys.sort()).toEqual(["_SUCCESS", ...second.files].sort());
    expect(second.files.some((f) => first.files.includes(f))).toBe(false);
    const files: string[] = [];
    for (const [i, file] of second.files.entries())
      files.push(`'${await fetched(`${uri}/${file}`, `part-${i}.parquet`)}'`);
    const [row] = await query(
      `SELECT count(*)::INT AS n, count(*) FILTER (a.prediction IS DISTINCT FROM b.prediction OR a.instant IS DISTINCT FROM b.instant)::INT AS other
       FROM read_parquet([${files.join(", ")}]) a POSITIONAL JOIN '${local}' b`,
    );
    expect(row).toEqual({ n: 3476, other: 0 });
    // A folder output is refused where one object is, and the other way round.
    const refused = run(
      `inputs: {path: 's3://data/in/inputs_test.parquet'}, outputs: {path: '${uri}', mode: overwrite}`,
    );
    expect(reportedError(refused.stderr)).toMatch(/E_WRITE.*it is a folder/);
  });

  it("given an s3:// output inside the s3:// input folder, when run, then it is refused before any work", () => {
    const done = run(
      "inputs: {path: 's3://data/hive/'}, outputs: {path: 's3://data/hive/season=9/p.parquet'}",
    );
    expect(done.code).toBe(2);
    expect(reportedError(done.stderr)).toMatch(/E_CONFIG.*is inside the input/);
  });
});
