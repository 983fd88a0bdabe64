#!/usr/bin/env node
// `npm run bench:pyfunc`: issue 15's bar. The reference-style custom model (test/fixtures/pyfunc: a
// PythonModel wrapping a scikit-learn Pipeline, its module shipped with code_paths, logged by MLflow 3) run
// end to end by mlbatch's pyfunc tier (`mlbatch run`, Python workers fed Arrow batches) against the Python
// peer (bench/pyfunc_infer.py: pd.read_parquet + mlflow.pyfunc.load_model + predict + to_parquet), on the
// same rows, in the same run; wall time and peak RSS of mlbatch's parent, of each worker, and of the peer.
//
// usage: node bench/pyfunc.mjs [--rows 1000000] [--workers N] [--repeat 1]
// The Python: $MLBATCH_PYTHON, else .venv-mlflow/bin/python (mlflow 3, pyarrow, scikit-learn).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";

const ROOT = join(import.meta.dirname, "..");
const WORK = join(ROOT, ".bench", "pyfunc");
const { values: opts } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    workers: { type: "string", default: String(availableParallelism()) },
    repeat: { type: "string", default: "1" },
  },
});
const ROWS = Number(opts.rows);
const PYTHON = process.env.MLBATCH_PYTHON ?? join(ROOT, ".venv-mlflow", "bin", "python");
const STORE = join(WORK, "store");
const INPUT = join(WORK, `inputs_${ROWS}.parquet`);
mkdirSync(WORK, { recursive: true });

if (!existsSync(join(STORE, "models.json"))) {
  console.log("making the MLflow 3 store of the pyfunc fixtures ...");
  execFileSync(PYTHON, [join(ROOT, "test", "fixtures", "pyfunc", "make_models.py"), "make", STORE], {
    stdio: "ignore",
  });
}
if (!existsSync(INPUT)) {
  const db = await (await DuckDBInstance.create()).connect();
  const test = join(ROOT, "examples", "bikes", "data", "inputs_test.parquet").replaceAll("'", "''");
  await db.run(
    `COPY (SELECT * EXCLUDE (r) FROM (SELECT t.*, row_number() OVER () AS r FROM '${test}' t, range(${Math.ceil(ROWS / 3476)})) WHERE r <= ${ROWS}) TO '${INPUT}' (FORMAT parquet)`,
  );
  db.closeSync();
}

/** Peak RSS (VmHWM, MB) of a process and of its children, polled every 100 ms until it exits. */
function peaks(pid, into) {
  const hwm = (p) => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      return m ? Number(m[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  };
  const children = (p) => {
    try {
      return readFileSync(`/proc/${p}/task/${p}/children`, "utf8")
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  return setInterval(() => {
    into.parent = Math.max(into.parent ?? 0, hwm(pid));
    for (const c of children(pid)) into.children[c] = Math.max(into.children[c] ?? 0, hwm(c));
  }, 100);
}

function measure(command, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const rss = { children: {} };
    const timer = peaks(child.pid, rss);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`${command} ${args.join(" ")} failed:\n${out.slice(-3000)}`));
      resolve({ wall: (performance.now() - t0) / 1000, rss, out });
    });
  });
}

const uri = `sqlite:///${join(STORE, "mlflow.db")}`;
const extras = {
  job: {
    inputs: { path: INPUT },
    outputs: { path: join(WORK, "mlbatch.parquet"), mode: "overwrite" },
    mlflow_service: { tracking_uri: uri, registry_uri: uri, registry_name: "bikes_custom" },
    loader: { KIND: "CustomLoader", pyfunc: "always", python: PYTHON, workers: Number(opts.workers) },
  },
};
const conf = join(ROOT, "examples", "flavors", "confs", "inference.yaml");
const best = (runs) => runs.reduce((a, b) => (b.wall < a.wall ? b : a));
const mlbatch = [];
const peer = [];
for (let i = 0; i < Number(opts.repeat); i++) {
  mlbatch.push(
    await measure(process.execPath, [
      join(ROOT, "bin", "mlbatch.js"),
      "run",
      conf,
      "-e",
      JSON.stringify(extras),
    ]),
  );
  rmSync(join(WORK, "peer.parquet"), { force: true });
  peer.push(
    await measure(PYTHON, [
      join(ROOT, "bench", "pyfunc_infer.py"),
      uri,
      "models:/bikes_custom@Champion",
      INPUT,
      join(WORK, "peer.parquet"),
    ]),
  );
}
const m = best(mlbatch);
const p = best(peer);
const workers = Object.values(m.rss.children).filter((v) => v > 0);
console.log(
  `\n${ROWS.toLocaleString("en")} rows, bikes_custom (PythonModel + Pipeline, MLflow 3), ${opts.workers} workers, best of ${opts.repeat}\n`,
);
console.log("| contender | wall (s) | rows/s | peak RSS (MB) |\n|---|---|---|---|");
console.log(
  `| mlbatch run, pyfunc tier | ${m.wall.toFixed(2)} | ${Math.round(ROWS / m.wall).toLocaleString("en")} | parent ${Math.round(m.rss.parent)}, workers ${workers.map(Math.round).join(" / ")} |`,
);
console.log(
  `| Python peer (pyfunc_infer.py) | ${p.wall.toFixed(2)} | ${Math.round(ROWS / p.wall).toLocaleString("en")} | ${Math.round(p.rss.parent)} |`,
);
console.log(
  `\nmlbatch / peer wall: ${(p.wall / m.wall).toFixed(2)}x faster; peer phases: ${p.out.trim().split("\n").at(-1)}`,
);
