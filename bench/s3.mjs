// The bikes job on N rows from and to an S3 API server (moto on 127.0.0.1, started here) against from and
// to local disk: wall time and peak RSS of the CLI (GNU time), and the most local disk the run's scratch
// folders held (blocks, so that a sparse stand-in counts what it holds; sampled every 20 ms in a TMPDIR of
// the run's own), for the spool of inputs and for the staged output apart.
// usage: node bench/s3.mjs [ROWS=1000000]   (needs a built dist/, /usr/bin/time, and .venv-mlflow with moto)
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { ObjectStore } from "../dist/data/object-store/object-store.js";
import { objectStoreSettings } from "../dist/data/object-store/settings.js";

const rows = Number(process.argv[2] ?? 1_000_000);
const root = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "mlbatch-bench-s3-"));
const python = process.env.MLBATCH_TEST_MLFLOW_PYTHON ?? join(root, ".venv-mlflow", "bin", "python");

// N rows: the bikes test set repeated, ids renumbered.
const input = join(dir, "inputs.parquet");
const db = await (await DuckDBInstance.create(":memory:")).connect();
const test = join(root, "examples", "bikes", "data", "inputs_test.parquet");
await db.run(
  `COPY (SELECT * EXCLUDE (instant), (row_number() OVER ())::BIGINT AS instant
         FROM (SELECT t.* FROM range(${Math.ceil(rows / 3476)}) r, '${test}' t) LIMIT ${rows})
   TO '${input}' (FORMAT parquet)`,
);
// The same rows as CSV: read piece by piece from S3 (pieces of MLBATCH_S3_PIECE_BYTES), or as one piece.
const csv = join(dir, "inputs.csv");
await db.run(`COPY (SELECT * FROM '${input}') TO '${csv}' (FORMAT csv, HEADER)`);

const port = await new Promise((done) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address();
    server.close(() => done(port));
  });
});
const endpoint = `http://127.0.0.1:${port}`;
const moto = spawn(python, ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
const env = {
  ...process.env,
  AWS_ENDPOINT_URL: endpoint,
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench",
  AWS_REGION: "us-east-1",
};
try {
  for (let i = 0; ; i++) {
    if (
      await fetch(`${endpoint}/moto-api/`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 300) throw new Error("moto did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  Object.assign(process.env, env);
  const store = new ObjectStore(objectStoreSettings(env));
  const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });
  await client.send(new CreateBucketCommand({ Bucket: "bench" }));
  client.destroy();
  await store.putFile("s3://bench/in/inputs.parquet", input);
  await store.putFile("s3://bench/csv/inputs.csv", csv);

  const run = async (name, inputs, outputs, reader = "", extraEnv = {}) => {
    const args = ["-f", "%e %M", process.execPath, join(root, "bin", "mlbatch.js"), "run"];
    args.push(join(root, "examples", "bikes", "confs", "inference.yaml"), "-e");
    args.push(
      `job: {inputs: {${reader}path: '${inputs}'}, outputs: {path: '${outputs}', mode: overwrite}, id_columns: [instant]}`,
    );
    const tmp = mkdtempSync(join(dir, "tmp-"));
    let spool = 0;
    let upload = 0;
    let disk = 0;
    const sampler = setInterval(() => {
      const held = scratchBytes(tmp);
      spool = Math.max(spool, held.spool);
      upload = Math.max(upload, held.upload);
      disk = Math.max(disk, held.spool + held.upload);
    }, 20);
    const child = spawn("/usr/bin/time", args, {
      cwd: root,
      env: { ...env, ...extraEnv, TMPDIR: tmp },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((done) => child.on("close", done));
    clearInterval(sampler);
    if (code !== 0) throw new Error(`${name} failed:\n${stderr.slice(-2000)}`);
    const [wall, rssKb] = stderr.trim().split("\n").at(-1).split(" ").map(Number);
    return {
      name,
      rows,
      wall_s: wall,
      peak_rss_mb: Math.round(rssKb / 1024),
      scratch_disk_mb: +(disk / 2 ** 20).toFixed(1),
      spool_mb: +(spool / 2 ** 20).toFixed(1),
      upload_mb: +(upload / 2 ** 20).toFixed(1),
    };
  };
  const results = [];
  results.push(await run("local disk", input, join(dir, "out.parquet")));
  results.push(await run("S3 (moto)", "s3://bench/in/inputs.parquet", "s3://bench/out/predictions.parquet"));
  const size = statSync(input).size;
  for (const r of results) console.log(JSON.stringify({ ...r, input_mb: +(size / 2 ** 20).toFixed(1) }));
  const csvReader = "KIND: CsvReader, types: {dteday: VARCHAR}, ";
  const csvResults = [
    await run("CSV, local disk", csv, join(dir, "out-csv.parquet"), csvReader),
    await run(
      "CSV, S3 (moto), pieces of 32 MiB",
      "s3://bench/csv/inputs.csv",
      join(dir, "out-csv.parquet"),
      csvReader,
    ),
    await run(
      "CSV, S3 (moto), pieces of 8 MiB",
      "s3://bench/csv/inputs.csv",
      join(dir, "out-csv.parquet"),
      csvReader,
      { MLBATCH_S3_PIECE_BYTES: String(8 * 2 ** 20) },
    ),
    await run(
      "CSV, S3 (moto), one piece (the whole file)",
      "s3://bench/csv/inputs.csv",
      join(dir, "out-csv.parquet"),
      csvReader,
      {
        MLBATCH_S3_PIECE_BYTES: String(2 ** 40),
      },
    ),
  ];
  const csvSize = statSync(csv).size;
  for (const r of csvResults)
    console.log(JSON.stringify({ ...r, input_mb: +(csvSize / 2 ** 20).toFixed(1) }));
  await store.close();
} finally {
  moto.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}

/** Bytes (blocks) under the scratch folders mlbatch makes in `tmp` for S3: the spool, the uploads. */
function scratchBytes(tmp) {
  const held = { spool: 0, upload: 0 };
  const walk = (path, kind) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      try {
        if (entry.isDirectory()) walk(full, kind);
        else held[kind] += statSync(full).blocks * 512;
      } catch {}
    }
  };
  for (const name of readdirSync(tmp)) {
    const kind = /^mlbatch-(spool|upload)-/.exec(name)?.[1];
    if (kind === undefined) continue;
    try {
      walk(join(tmp, name), kind);
    } catch {}
  }
  return held;
}
