#!/usr/bin/env node
// `npm run bench:pyfunc`, and the pyfunc rows of `npm run bench`: issue 15's bar. The reference-style custom
// model (test/fixtures/pyfunc: a PythonModel wrapping a scikit-learn Pipeline, its module shipped with
// code_paths, logged by MLflow 3) run end to end by mlbatch's pyfunc tier (`mlbatch run`: a zygote loads the
// model and forks the Python workers, fed Arrow batches) against the Python peer (bench/pyfunc_infer.py:
// pd.read_parquet + mlflow.pyfunc.load_model + predict + to_parquet), on the same rows, alternated in the
// same run; median wall time, and peak RSS of mlbatch's parent, its zygote, each worker and the peer.
//
// usage: node bench/pyfunc.mjs [--rows 1000000] [--workers N] [--repeat 3]
// The Python: $MLBATCH_PYTHON, else .venv-mlflow/bin/python (mlflow 3, pyarrow, scikit-learn).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";

const ROOT = join(import.meta.dirname, "..");
const WORK = join(ROOT, ".bench", "pyfunc");
const PYTHON = process.env.MLBATCH_PYTHON ?? join(ROOT, ".venv-mlflow", "bin", "python");
const STORE = join(WORK, "store");

/** The MLflow 3 store of the fixture models, and `rows` rows of the bikes test inputs, made once. */
async function prepare(rows) {
  mkdirSync(WORK, { recursive: true });
  if (!existsSync(join(STORE, "models.json"))) {
    execFileSync(PYTHON, [join(ROOT, "test", "fixtures", "pyfunc", "make_models.py"), "make", STORE], {
      stdio: "ignore",
    });
  }
  const input = join(WORK, `inputs_${rows}.parquet`);
  if (!existsSync(input)) {
    const db = await (await DuckDBInstance.create()).connect();
    const test = join(ROOT, "examples", "bikes", "data", "inputs_test.parquet").replaceAll("'", "''");
    await db.run(
      `COPY (SELECT * EXCLUDE (r) FROM (SELECT t.*, row_number() OVER () AS r FROM '${test}' t, range(${Math.ceil(rows / 3476)})) WHERE r <= ${rows}) TO '${input}' (FORMAT parquet)`,
    );
    db.closeSync();
  }
  return input;
}

const hwm = (pid) => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
};
const childrenOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
};

/** Peak RSS (VmHWM, MB) of a process, of its children and of theirs, polled every 100 ms until it exits. */
function peaks(pid, into) {
  return setInterval(() => {
    into.parent = Math.max(into.parent ?? 0, hwm(pid));
    for (const child of childrenOf(pid)) {
      const grandchildren = childrenOf(child);
      into.children[child] ??= { rss: 0, children: {} };
      const seen = into.children[child];
      seen.rss = Math.max(seen.rss, hwm(child));
      for (const g of grandchildren) seen.children[g] = Math.max(seen.children[g] ?? 0, hwm(g));
    }
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

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * mlbatch's pyfunc tier and the Python peer on `rows` rows, alternated `repeat` times.
 *
 * @returns the medians: wall (s), peak RSS (MB) of mlbatch's parent, zygote and workers, of the peer, and
 * the peer's in-process phases
 */
export async function pyfuncBench({
  rows = 1_000_000,
  workers = availableParallelism(),
  repeat = 3,
  log = () => {},
} = {}) {
  const input = await prepare(rows);
  const uri = `sqlite:///${join(STORE, "mlflow.db")}`;
  const extras = {
    job: {
      inputs: { path: input },
      outputs: { path: join(WORK, "mlbatch.parquet"), mode: "overwrite" },
      mlflow_service: { tracking_uri: uri, registry_uri: uri, registry_name: "bikes_custom" },
      loader: { KIND: "CustomLoader", pyfunc: "always", python: PYTHON, workers },
    },
  };
  const conf = join(ROOT, "examples", "flavors", "confs", "inference.yaml");
  const mlbatch = [];
  const peer = [];
  for (let i = 0; i < repeat; i++) {
    log(`pyfunc ${rows} rows: mlbatch, run ${i + 1} of ${repeat}`);
    const cli = [join(ROOT, "bin", "mlbatch.js"), "run", conf, "-e", JSON.stringify(extras)];
    mlbatch.push(await measure(process.execPath, cli));
    rmSync(join(WORK, "peer.parquet"), { force: true });
    log(`pyfunc ${rows} rows: Python peer, run ${i + 1} of ${repeat}`);
    const script = join(ROOT, "bench", "pyfunc_infer.py");
    peer.push(
      await measure(PYTHON, [
        script,
        uri,
        "models:/bikes_custom@Champion",
        input,
        join(WORK, "peer.parquet"),
      ]),
    );
  }
  const zygotes = mlbatch.map((m) =>
    Object.values(m.rss.children).find((c) => Object.keys(c.children).length > 0),
  );
  const phases = peer.map((p) => JSON.parse(p.out.trim().split("\n").at(-1)));
  return {
    rows,
    workers,
    repeat,
    mlbatch: {
      wall: median(mlbatch.map((m) => m.wall)),
      walls: mlbatch.map((m) => m.wall),
      parentMB: median(mlbatch.map((m) => m.rss.parent)),
      zygoteMB: median(zygotes.map((z) => z?.rss ?? 0)),
      workersMB: Array.from({ length: workers }, (_, j) =>
        median(zygotes.map((z) => Object.values(z?.children ?? {})[j] ?? 0)),
      ),
    },
    peer: {
      wall: median(peer.map((p) => p.wall)),
      walls: peer.map((p) => p.wall),
      rssMB: median(peer.map((p) => p.rss.parent)),
      phases: Object.fromEntries(Object.keys(phases[0]).map((k) => [k, median(phases.map((p) => p[k]))])),
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values: opts } = parseArgs({
    options: {
      rows: { type: "string", default: "1000000" },
      workers: { type: "string", default: String(availableParallelism()) },
      repeat: { type: "string", default: "3" },
    },
  });
  const r = await pyfuncBench({
    rows: Number(opts.rows),
    workers: Number(opts.workers),
    repeat: Number(opts.repeat),
    log: (m) => process.stderr.write(`[bench] ${m}\n`),
  });
  const mb = Math.round;
  const s = (walls) => walls.map((w) => w.toFixed(2)).join(", ");
  console.log(
    `\n${r.rows.toLocaleString("en")} rows, bikes_custom (PythonModel + Pipeline, MLflow 3), ${r.workers} workers, median of ${r.repeat} alternated runs\n`,
  );
  console.log("| contender | wall (s) | rows/s | peak RSS (MB) |\n|---|---|---|---|");
  console.log(
    `| mlbatch run, pyfunc tier | ${r.mlbatch.wall.toFixed(2)} (${s(r.mlbatch.walls)}) | ${Math.round(r.rows / r.mlbatch.wall).toLocaleString("en")} | parent ${mb(r.mlbatch.parentMB)}, zygote ${mb(r.mlbatch.zygoteMB)}, workers ${r.mlbatch.workersMB.map(mb).join(" / ")} |`,
  );
  console.log(
    `| Python peer (pyfunc_infer.py) | ${r.peer.wall.toFixed(2)} (${s(r.peer.walls)}) | ${Math.round(r.rows / r.peer.wall).toLocaleString("en")} | ${mb(r.peer.rssMB)} |`,
  );
  const ph = Object.entries(r.peer.phases)
    .filter(([k]) => k.endsWith("_s"))
    .map(([k, v]) => `${k} ${v.toFixed(2)}`);
  console.log(
    `\npeer wall / mlbatch wall: ${(r.peer.wall / r.mlbatch.wall).toFixed(2)}x; peer phases (medians): ${ph.join(", ")}`,
  );
}
