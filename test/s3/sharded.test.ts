/**
 * Sharded runs committed on a real S3 API server (moto), no shared volume: 4 shard processes of the built
 * CLI read their units from s3://, one is SIGKILLed as soon as its first part is uploaded, rerun, and the
 * one `_SUCCESS` manifest lists parts that equal the single-process (local) run row for row. Parts live
 * under the plan's id; the manifest is written last, conditionally; a new plan replaces the output only
 * when its own manifest is in.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { assignUnits } from "../../src/shard/units.js";
import { BIKES, cli, copyStore, query, ROOT, removeDir, reportedError, tempDir } from "../helpers.js";
import { type Moto, startMoto, useEnv } from "./moto.js";

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

interface Manifest {
  plan_id: string;
  parts: { unit: string; file: string; rows: number; bytes: number; sha256: string }[];
  rows: { read: number; written: number; dropped: number };
  inputs: { files: { path: string; digest: string }[] };
}

let moto: Moto;
let dir: string;
let store: string;
let single: string;
let restore: () => void;

function start(args: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [join(ROOT, "bin", "mlbatch.js"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...moto.env },
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.resume();
  const exit = new Promise<Exit>((done) =>
    child.on("close", (code, signal) => done({ code, signal, stderr })),
  );
  return { child, exit };
}

function config(name: string, input: string, output: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `job:
  KIND: InferenceJob
  inputs: {KIND: ParquetReader, path: '${input}'}
  outputs: {KIND: ParquetWriter, path: '${output}'}
  id_columns: [instant]
  batch_size: 64
  loader: {KIND: CustomLoader, intra_op_num_threads: 1}
  logger_service: {level: INFO}
  alerts_service: {app_name: Bikes}
  mlflow_service: {registry_uri: 'sqlite:///${join(store, "mlflow.db")}'}
`,
  );
  return path;
}

/** The committed manifest, and its parts read back in its order, compared with the single run. */
async function expectCommittedEqualsSingle(prefix: string): Promise<Manifest> {
  const text = (await moto.store.getText(`${prefix}/_SUCCESS`))?.text;
  expect(text).toBeDefined();
  const manifest = JSON.parse(text!) as Manifest;
  const local = join(dir, `fetched-${manifest.plan_id.slice(0, 8)}`);
  mkdirSync(local, { recursive: true });
  const files: string[] = [];
  for (const part of manifest.parts) {
    const file = join(local, `${part.unit}.parquet`);
    await moto.store.download(`${prefix}/${part.file}`, file);
    expect(createHash("sha256").update(readFileSync(file)).digest("hex")).toBe(part.sha256);
    files.push(`'${file}'`);
  }
  const [compare] = await query(
    `SELECT count(*)::INT AS n, count(DISTINCT s.instant)::INT AS ids,
            count(*) FILTER (s.instant IS DISTINCT FROM o.instant OR s.prediction IS DISTINCT FROM o.prediction)::INT AS other
     FROM read_parquet([${files.join(", ")}]) s POSITIONAL JOIN '${single}' o`,
  );
  expect(compare).toEqual({ n: 17379, ids: 17379, other: 0 });
  expect(manifest.rows).toEqual({ read: 17379, written: 17379, dropped: 0 });
  // Every object under the prefix is the manifest's, the plan's or the manifest itself: no leftovers.
  const keys = (await moto.store.list(`${prefix}/`)).map((o) => o.uri.slice(prefix.length + 1));
  expect(keys.sort()).toEqual(["_SUCCESS", "_plan.json", ...manifest.parts.map((p) => p.file)].sort());
  return manifest;
}

beforeAll(async () => {
  moto = await startMoto(["data"]);
  restore = useEnv(moto.env);
  dir = tempDir("mlbatch-s3-shards-");
  store = copyStore("mlflow3-sqlite");
  // 17,379 rows in 7 objects, some of several row groups: 11 work units of 400 to 2,048 rows.
  const all = `(SELECT * FROM '${join(BIKES, "data", "inputs_train.parquet")}' UNION ALL SELECT * FROM '${join(BIKES, "data", "inputs_test.parquet")}')`;
  const bounds = [0, 1500, 6000, 6500, 11000, 11400, 15000, 17380];
  mkdirSync(join(dir, "inputs"));
  for (let k = 0; k < bounds.length - 1; k++) {
    const file = join(dir, "inputs", `file-${k}.parquet`);
    await query(
      `COPY (SELECT * FROM ${all} WHERE instant > ${bounds[k]} AND instant <= ${bounds[k + 1]} ORDER BY instant) ` +
        `TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    );
    await moto.store.putFile(`s3://data/inputs/day=${k}/file-${k}.parquet`, file);
  }
  single = join(dir, "single.parquet");
  const run = cli(["run", config("single", join(dir, "inputs"), single)]);
  expect(run.code, run.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  restore?.();
  await moto?.stop();
  removeDir(dir);
  removeDir(store);
});

describe("sharded runs on S3", () => {
  it("given 4 shards on s3://, when one is SIGKILLed after its first part, rerun and committed, then the one manifest's parts equal the single run", async () => {
    const prefix = "s3://data/sharded";
    const conf = config("killed", "s3://data/inputs/*/*.parquet", `${prefix}/`);
    const planned = cli(["plan", conf], { env: moto.env });
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain("11 units, 17379 rows");
    const plan = JSON.parse((await moto.store.getText(`${prefix}/_plan.json`))!.text) as {
      plan_id: string;
      units: { id: string; rows: number }[];
      inputs: { files: { path: string; digest: string }[] };
    };
    expect(plan.inputs.files[0]).toMatchObject({ path: "s3://data/inputs/day=0/file-0.parquet" });
    expect(plan.inputs.files[0]!.digest).toMatch(/^s3-etag:/);
    const shards = assignUnits(plan.units, 4);
    const victim = shards.reduce((best, units, i) => (units.length > shards[best]!.length ? i : best), 0);
    const folder = `plan-${plan.plan_id.slice(0, 16)}`;
    const victimParts = new Set(shards[victim]!.map((u) => `${folder}/part-${u.id}.parquet`));
    expect(victimParts.size).toBeGreaterThan(1);

    const runs = [0, 1, 2, 3].map((i) => start(["run", conf, "--shard", `${i}/4`]));
    // Killed as soon as one of its parts is on the store.
    const watching = (async () => {
      for (;;) {
        const keys = (await moto.store.list(`${prefix}/${folder}/`)).map((o) =>
          o.uri.slice(prefix.length + 1),
        );
        if (keys.some((key) => victimParts.has(key))) return runs[victim]!.child.kill("SIGKILL");
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await watching;
    const exits = await Promise.all(runs.map((r) => r.exit));
    expect(exits[victim]!.signal).toBe("SIGKILL");
    for (const [i, exit] of exits.entries()) if (i !== victim) expect(exit.code, exit.stderr).toBe(0);
    // Nothing is committed while a unit is missing.
    expect(await moto.store.head(`${prefix}/_SUCCESS`)).toBeUndefined();
    const early = cli(["commit", conf], { env: moto.env });
    expect(early.code).toBe(1);
    expect(reportedError(early.stderr)).toMatch(/\[E_WRITE\].*units have no valid part yet/);
    const done = (await moto.store.list(`${prefix}/${folder}/`)).filter((o) =>
      victimParts.has(o.uri.slice(prefix.length + 1)),
    );
    expect(done.length).toBeGreaterThan(0);
    expect(done.length).toBeLessThan(victimParts.size);

    const rerun = cli(["run", conf, "--shard", `${victim}/4`], { env: moto.env });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`Resume: ${done.length} units already have valid parts`);
    expect(rerun.stdout).toBe(
      `[Bikes] Inference Job (shard ${victim}/4) Finished: Outputs Shape: (17379, 2)\n`,
    );
    const manifest = await expectCommittedEqualsSingle(prefix);
    expect(manifest.parts.every((p) => p.file.startsWith(`${folder}/`))).toBe(true);

    // Read back by mlbatch, the prefix is the manifest's parts, in its order (a dead attempt's would not be).
    await moto.store.putFile(`${prefix}/plan-dead/part-00000.parquet`, single);
    const db = await Database.create();
    try {
      const source = await new ParquetReader({ path: `${prefix}/` }).open(db, { wholeFiles: true });
      expect(source.files.length).toBe(11);
      const [rows] = await db.rows(
        `SELECT count(*)::INT AS n, min(instant)::INT AS first FROM ${source.query()}`,
      );
      expect(rows).toEqual({ n: 17379, first: 1 });
    } finally {
      db.close();
    }
  }, 240_000);

  it("given a committed output, when a changed config is planned and run with mode overwrite, then the old output stays until the new manifest replaces it, and its parts are then deleted", async () => {
    const prefix = "s3://data/replaced";
    const first = config("first", "s3://data/inputs/*/*.parquet", prefix);
    for (const i of [0, 1]) expect(cli(["run", first, "--shard", `${i}/2`], { env: moto.env }).code).toBe(0);
    const old = await expectCommittedEqualsSingle(prefix);
    const changed = join(dir, "changed.yaml");
    writeFileSync(
      changed,
      `${readFileSync(first, "utf8")}  batch_size: 128\n`.replace("  batch_size: 64\n", ""),
    );
    const refused = cli(["plan", changed], { env: moto.env });
    expect(refused.code).toBe(1);
    expect(reportedError(refused.stderr)).toMatch(/E_WRITE.*different plan/);
    const over = (shard: string) =>
      cli(["run", changed, "--shard", shard, "-e", "job: {outputs: {mode: overwrite}}"], { env: moto.env });
    expect(cli(["plan", changed, "-e", "job: {outputs: {mode: overwrite}}"], { env: moto.env }).code).toBe(0);
    expect(over("0/2").code).toBe(0);
    // Half of the new plan is done: the old output is still whole.
    expect(JSON.parse((await moto.store.getText(`${prefix}/_SUCCESS`))!.text).plan_id).toBe(old.plan_id);
    expect(over("1/2").code).toBe(0);
    const fresh = await expectCommittedEqualsSingle(prefix);
    expect(fresh.plan_id).not.toBe(old.plan_id);
  }, 240_000);

  it("given every part uploaded and no manifest, when three commits race, then exactly one writes _SUCCESS and all see it", async () => {
    const prefix = "s3://data/twins";
    const conf = config("twins", "s3://data/inputs/*/*.parquet", prefix);
    for (const i of [0, 1]) expect(cli(["run", conf, "--shard", `${i}/2`], { env: moto.env }).code).toBe(0);
    const committed = await expectCommittedEqualsSingle(prefix);
    await moto.store.delete([`${prefix}/_SUCCESS`]);
    const commits = [0, 1, 2].map(() => start(["commit", conf]));
    const exits = await Promise.all(commits.map((c) => c.exit));
    for (const exit of exits) expect(exit.code, exit.stderr).toBe(0);
    const winners = exits.filter((exit) => exit.stderr.includes(`Committed ${prefix}: 11 parts, 17379 rows`));
    expect(winners).toHaveLength(1);
    const manifest = await expectCommittedEqualsSingle(prefix);
    expect(manifest.plan_id).toBe(committed.plan_id);
  }, 240_000);
});
