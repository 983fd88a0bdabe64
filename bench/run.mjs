#!/usr/bin/env node
// `npm run bench`: mlbatch end to end against the limit (ONNX Runtime's own predict time in Node) and the
// Python stack, side by side in one run. See docs/benchmarks.md.
//
// usage: npm run bench [-- --models rf20,rf200 --sizes 1m,10m --repeat 3 --skip-python --skip-pyfunc
//                           --pyfunc-rows 1000000]
// Wall times are the best of --repeat runs (this machine is a shared VM: single runs vary by 20%); the
// slow ONNX Runtime rows run once.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pyfuncBench } from "./pyfunc.mjs";

const ROOT = join(import.meta.dirname, "..");
const WORK = join(ROOT, ".bench");
// Every contender's caches (mlbatch's compiled forests) stay under .bench/, not in the user's ~/.cache.
const CACHE = join(WORK, "cache");
const FORESTS = join(CACHE, "mlbatch", "forests");
const VENV = join(WORK, "venv");
const PYTHON = join(VENV, "bin", "python");
const { values: opts } = parseArgs({
  options: {
    models: { type: "string", default: "rf20,rf200" },
    sizes: { type: "string", default: "1m,10m" },
    repeat: { type: "string", default: "3" },
    "skip-python": { type: "boolean", default: false },
    "skip-pyfunc": { type: "boolean", default: false },
    "pyfunc-rows": { type: "string", default: "1000000" },
    sweep: { type: "boolean", default: false },
  },
});
const models = opts.models.split(",").filter(Boolean);
const sizes = opts.sizes.split(",");
const repeat = Number(opts.repeat);

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Runs a command, returning its wall time (s), peak RSS (MB) and stdout. Best wall of `times` runs. */
async function measure(command, args, times = repeat) {
  let best;
  for (let i = 0; i < times; i++) {
    const result = await once(command, args);
    if (best === undefined || result.wall < best.wall) best = result;
  }
  return best;
}

function once(command, args) {
  const timeFile = join(WORK, "time.txt");
  const useTime = existsSync("/usr/bin/time");
  const [cmd, argv] = useTime
    ? ["/usr/bin/time", ["-f", "%e %M", "-o", timeFile, command, ...args]]
    : [command, args];
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, XDG_CACHE_HOME: CACHE },
    });
    let stdout = "";
    let stderr = "";
    let peak = 0;
    // Without GNU time, sample the child's high-water mark while it runs.
    const poll = useTime
      ? undefined
      : setInterval(() => {
          try {
            const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
            if (hwm) peak = Math.max(peak, Number(hwm[1]));
          } catch {}
        }, 20);
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => {
      if (poll) clearInterval(poll);
      const wall = (performance.now() - start) / 1000;
      if (code !== 0) return reject(new Error(`${command} ${args.join(" ")} failed (${code}):\n${stderr}`));
      if (useTime) {
        const [, rss] = readFileSync(timeFile, "utf8").trim().split(/\s+/).slice(-2);
        peak = Number(rss);
      }
      resolve({ wall, rssMB: peak / 1024, stdout });
    });
  });
}

function ensurePython() {
  if (existsSync(PYTHON)) {
    try {
      execFileSync(PYTHON, ["-c", "import mlflow, sklearn, skl2onnx, pandera"], { stdio: "ignore" });
      return;
    } catch {}
  }
  log("creating .bench/venv from bench/requirements.txt (a few minutes, once)");
  execFileSync("python3", ["-m", "venv", VENV], { stdio: "inherit" });
  execFileSync(PYTHON, ["-m", "pip", "install", "--quiet", "-r", join(ROOT, "bench", "requirements.txt")], {
    stdio: "inherit",
  });
}

/** The folder of a registered model's files in the bench registry. */
function modelDir(name) {
  const out = execFileSync(
    PYTHON,
    [
      "-c",
      "import sys, mlflow; mlflow.set_tracking_uri(sys.argv[1]); print(mlflow.MlflowClient().get_model_version_download_uri(sys.argv[2], '1'))",
      `sqlite:///${join(WORK, "mlflow.db")}`,
      name,
    ],
    { encoding: "utf8", cwd: WORK },
  );
  return out.trim().replace(/^file:\/\//, "");
}

const fmt = (x, digits = 2) => (x === undefined ? "" : x.toFixed(digits));
const ROWS = { "1m": 1_001_088, "10m": 10_010_880 };

async function main() {
  mkdirSync(join(WORK, "out"), { recursive: true });
  // The tree models' Python (`--models ''` runs the cold start and the pyfunc rows only, without it).
  if (models.length > 0) {
    ensurePython();
    log("preparing inputs and models (bench/prepare.py)");
    execFileSync(PYTHON, [join(ROOT, "bench", "prepare.py"), WORK], { stdio: "inherit" });
  }
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
  const rows = [];
  const mlbatch = (input, model, extra = [], times = repeat) =>
    measure(
      process.execPath,
      [
        join(ROOT, "bin", "mlbatch.js"),
        "run",
        join(ROOT, "bench", "confs", "bench.yaml"),
        "-e",
        `job: {inputs: {path: '${input}'}, outputs: {path: '${join(WORK, "out", "mlbatch.parquet")}'}, mlflow_service: {registry_name: bench_${model}}}`,
        ...extra,
      ],
      times,
    );
  const ORT_ENGINE = ["-e", "job: {loader: {KIND: CustomLoader, engine: onnxruntime}}"];

  // The quick start exactly as the README gives it (from the repository's folder, its own output, the
  // console notification): no -e, which would parse one more YAML document.
  log("cold start: the quick start (bikes example, 3,476 rows, small model)");
  const cold = await measure(process.execPath, [
    join(ROOT, "bin", "mlbatch.js"),
    "run",
    join("examples", "bikes", "confs", "inference.yaml"),
  ]);
  rows.push({
    contender: "mlbatch cold start",
    model: "example v2 (RF 20/8)",
    rows: 3476,
    wall: cold.wall,
    rss: cold.rssMB,
  });

  for (const model of models) {
    const dir = modelDir(`bench_${model}`);
    // The model load, in fresh processes: compiled from the ONNX file, and read from the forest cache
    // (warmed first: what a second run, and every mlbatch run below, does).
    log(`${model}: tree engine model load, compiled and from the forest cache`);
    const script = join(ROOT, "bench", "load-trees.mjs");
    const loadOf = async (cache) =>
      JSON.parse((await measure(process.execPath, [script, dir, cache])).stdout);
    const compiled = await loadOf("-");
    await measure(process.execPath, [script, dir, FORESTS], 1);
    const load = { compiled, cached: await loadOf(FORESTS) };
    for (const size of sizes) {
      const input = join(WORK, `inputs_${size}.parquet`);
      const n = ROWS[size];
      // The slow ONNX Runtime rows run once, and on 1M rows only (their time per row does not change).
      let raw;
      let ortE2e;
      if (size === "1m") {
        log(`${model} ${size}: raw ONNX Runtime`);
        const ort = await measure(process.execPath, [join(ROOT, "bench", "raw-ort.mjs"), dir, input], 1);
        raw = { ...ort, ...JSON.parse(ort.stdout.trim().split("\n").pop()) };
        log(`${model} ${size}: mlbatch, engine onnxruntime`);
        ortE2e = await mlbatch(input, model, ORT_ENGINE, 1);
      }
      log(`${model} ${size}: raw tree engine`);
      const engine = await measure(process.execPath, [join(ROOT, "bench", "raw-trees.mjs"), dir, input]);
      const trees = { ...engine, ...JSON.parse(engine.stdout.trim().split("\n").pop()) };
      log(`${model} ${size}: mlbatch`);
      const e2e = await mlbatch(input, model);
      const entry = {
        model,
        size,
        n,
        raw,
        trees,
        load: size === sizes[0] ? load : undefined,
        loadS: load.cached.load_s,
        mlbatch: e2e,
        ortE2e,
      };
      if (size === "1m" && !opts["skip-python"]) {
        log(`${model} ${size}: Python peer (pandas + pandera + sklearn)`);
        entry.peer = await measure(PYTHON, [
          join(ROOT, "bench", "peer_infer.py"),
          input,
          join(WORK, `${model}.pkl`),
          join(WORK, "out", "peer.parquet"),
        ]);
        log(`${model} ${size}: Python peer, n_jobs=-1`);
        entry.tuned = await measure(PYTHON, [
          join(ROOT, "bench", "peer_infer.py"),
          input,
          join(WORK, `${model}.pkl`),
          join(WORK, "out", "peer.parquet"),
          "-1",
        ]);
        log(`${model} ${size}: MLflow pyfunc over the ONNX model`);
        // MLflow's pyfunc may refuse the model (it feeds rank-1 arrays to [n, 1] inputs): the table says so.
        entry.pyfunc = await measure(PYTHON, [
          join(ROOT, "bench", "pyfunc_infer.py"),
          `sqlite:///${join(WORK, "mlflow.db")}`,
          `models:/bench_${model}@Champion`,
          input,
          join(WORK, "out", "pyfunc.parquet"),
        ]).catch((error) => ({ failed: /\w+Error[^\n]*$/m.exec(String(error.message))?.[0] ?? "failed" }));
      }
      rows.push(...tableRows(entry));
    }
  }
  if (!opts["skip-pyfunc"]) rows.push(...(await pyfuncRows()));
  if (opts.sweep) {
    // How the defaults were chosen: batch size and ONNX Runtime threads, mlbatch end to end on 1M rows.
    for (const model of models) {
      const input = join(WORK, "inputs_1m.parquet");
      for (const batch of [8192, 32768, 65536, 262144]) {
        for (const threads of [0, 1, 2]) {
          log(`sweep ${model}: batch_size ${batch}, intra_op_num_threads ${threads}`);
          const result = await mlbatch(input, model, [
            "-e",
            `job: {batch_size: ${batch}, loader: {intra_op_num_threads: ${threads}}}`,
          ]);
          rows.push({
            contender: `mlbatch batch_size=${batch} intra_op=${threads || "default"}`,
            model: model === "rf200" ? "RF 200/20" : "RF 20/8",
            rows: ROWS["1m"],
            wall: result.wall,
            rss: result.rssMB,
          });
        }
      }
    }
  }
  const table = render(rows);
  process.stdout.write(`${table}\n`);
  writeFileSync(join(WORK, "results.md"), `${table}\n`);
  writeFileSync(join(WORK, "results.json"), `${JSON.stringify(rows, null, 2)}\n`);
  log("written .bench/results.md and .bench/results.json");
  rmSync(join(WORK, "out"), { recursive: true, force: true });
}

/** Issue 15's bar: mlbatch's pyfunc tier against the Python peer, alternated (bench/pyfunc.mjs), medians. */
async function pyfuncRows() {
  const r = await pyfuncBench({ rows: Number(opts["pyfunc-rows"]), repeat, log });
  const model = "bikes_custom (PythonModel + Pipeline)";
  const walls = (w) => w.map((x) => fmt(x)).join(", ");
  const mb = (x) => fmt(x, 0);
  return [
    {
      contender: `mlbatch pyfunc tier (end to end, ${r.workers} workers)`,
      model,
      rows: r.rows,
      wall: r.mlbatch.wall,
      rss: r.mlbatch.parentMB,
      vsPeer: r.peer.wall / r.mlbatch.wall,
      note: `peak RSS: parent ${mb(r.mlbatch.parentMB)}, zygote ${mb(r.mlbatch.zygoteMB)}, workers ${r.mlbatch.workersMB.map(mb).join(" / ")} MB; median of ${r.repeat} (${walls(r.mlbatch.walls)} s)`,
    },
    {
      contender: "Python peer (pandas + mlflow.pyfunc.load_model + predict)",
      model,
      rows: r.rows,
      wall: r.peer.wall,
      rss: r.peer.rssMB,
      vsPeer: 1,
      note: `in-process: read ${fmt(r.peer.phases.read_s)}, load ${fmt(r.peer.phases.load_s)}, predict ${fmt(r.peer.phases.predict_s)}, write ${fmt(r.peer.phases.write_s)} s; median of ${r.repeat} (${walls(r.peer.walls)} s)`,
    },
  ];
}

function tableRows({ model, n, raw, trees, load, loadS, mlbatch, ortE2e, peer, tuned, pyfunc }) {
  const name = model === "rf200" ? "RF 200/20" : "RF 20/8";
  const peerWall = peer?.wall;
  const row = (contender, result, extra = {}) =>
    result?.failed !== undefined
      ? { contender, model: name, rows: n, note: `failed: ${result.failed.slice(0, 160)}` }
      : result && {
          contender,
          model: name,
          rows: n,
          wall: result.wall,
          rss: result.rssMB,
          vsPeer: peerWall && peerWall / result.wall,
          ...extra,
        };
  const predictOf = (result) => result && JSON.parse(result.stdout.trim().split("\n").pop()).predict_s;
  const sklearn = predictOf(tuned);
  const sklearnSingle = predictOf(peer);
  const versus = (seconds) =>
    [
      sklearn && `${fmt(seconds / sklearn)}x sklearn n_jobs=-1`,
      raw && `${fmt(seconds / raw.predict_s)}x ONNX Runtime`,
    ]
      .filter(Boolean)
      .join(", ");
  const overhead = mlbatch.wall - trees.predict_s;
  // mlbatch runs with a warm forest cache: its model load (loadS) is the cached one.
  return [
    load && {
      contender: "tree engine model load (Node)",
      model: name,
      rows: 0,
      wall: load.cached.load_s,
      note: `${load.cached.cached ? "from the forest cache" : "compiled (a forest below the cache's size)"}; compiled from the ONNX file: ${fmt(load.compiled.load_s)} s`,
    },
    row("mlbatch (end to end)", mlbatch, {
      overhead: overhead / (n / 1e6),
      overheadLoad: (overhead - loadS) / (n / 1e6),
    }),
    row("mlbatch (end to end), engine onnxruntime", ortE2e),
    {
      contender: "tree engine predict only (Node)",
      model: name,
      rows: n,
      wall: trees.predict_s,
      rss: trees.rssMB,
      note: `${versus(trees.predict_s)}; load (compiled) ${fmt(trees.load_s)} s; shared memory ${fmt(trees.memory_mb, 0)} MB for ${fmt(trees.forest_mb, 0)} MB of nodes`,
    },
    raw && {
      contender: "ONNX Runtime predict only (Node)",
      model: name,
      rows: n,
      wall: raw.predict_s,
      rss: raw.rssMB,
      note: `session load ${fmt(raw.load_s)} s`,
    },
    sklearn && { contender: "scikit-learn predict only, n_jobs=-1", model: name, rows: n, wall: sklearn },
    sklearnSingle && {
      contender: "scikit-learn predict only, default",
      model: name,
      rows: n,
      wall: sklearnSingle,
    },
    row("Python peer (pandas + pandera + sklearn)", peer),
    row("Python peer, sklearn n_jobs=-1", tuned),
    row("MLflow pyfunc (ONNX, Python)", pyfunc),
  ].filter(Boolean);
}

function render(rows) {
  const header =
    "| contender | model | rows | wall s | rows/s | peak RSS MB | peer wall / wall | overhead s per 1M rows (incl. / excl. model load), notes |";
  const lines = rows.map(
    (r) =>
      `| ${r.contender} | ${r.model} | ${r.rows.toLocaleString("en-US")} | ${fmt(r.wall)} | ${r.wall && r.rows ? Math.round(r.rows / r.wall).toLocaleString("en-US") : ""} | ${fmt(r.rss, 0)} | ${r.vsPeer ? `${fmt(r.vsPeer)}x` : ""} | ${r.overhead !== undefined ? `${fmt(r.overhead)} / ${fmt(r.overheadLoad)}` : (r.note ?? "")} |`,
  );
  return [header, "|---|---|---|---|---|---|---|---|", ...lines].join("\n");
}

await main();
