#!/usr/bin/env node
// `npm run bench:flavors`: issue 14's bar as a benchmark. mlbatch's tree engine on MLflow's XGBoost,
// LightGBM and scikit-learn (skops) flavors against each library's own predict (all cores and one), the
// compiled peers (lleaves, treelite / TL2cgen) and, for the reference RF 200/20, the same model from ONNX.
// All on the same 1M bikes rows; see docs/benchmarks-flavors.md.
//
// usage: node bench/flavors.mjs [--repeat 3] [--rows 1m] [--models xgb,lgb,rf] [--skip-e2e] [--gtil]
// (--gtil adds treelite's interpreter: slow, 90 s a pass on LightGBM here)
// Every figure is the best of --repeat (predict-only contenders repeat the predict in one process after
// one load; end-to-end ones repeat the whole `mlbatch run`). Ratios are to the library's multi-threaded
// predict measured in the same run: this machine is shared, absolute times drift, ratios much less.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";

const ROOT = join(import.meta.dirname, "..");
const WORK = join(ROOT, ".bench", "flavors");
const VENV = join(ROOT, ".bench", "venv-flavors");
const PYTHON = join(VENV, "bin", "python");
const REQUIREMENTS = join(ROOT, "bench", "requirements-flavors.txt");
const { values: opts } = parseArgs({
  options: {
    repeat: { type: "string", default: "3" },
    rows: { type: "string", default: "1m" },
    models: { type: "string", default: "xgb,lgb,rf" },
    "skip-e2e": { type: "boolean", default: false },
    gtil: { type: "boolean", default: false },
  },
});
if (opts.rows !== "1m") throw new Error(`--rows ${opts.rows}: only 1m (1,001,088 rows) is prepared`);
const repeat = Number(opts.repeat);
const models = opts.models.split(",");
const CORES = availableParallelism();
const INPUT = join(WORK, "inputs_1m.parquet");
const PRED = join(WORK, "predictions");
const OUT = join(WORK, "out");

const log = (message) => process.stderr.write(`[bench:flavors] ${message}\n`);

// ------------------------------------------------------------------------------------------ processes

/** Runs a command once: wall (s), peak RSS (MB, GNU time when present), stdout; rejects with stderr's tail. */
function once(command, args) {
  const timeFile = join(WORK, "time.txt");
  const useTime = existsSync("/usr/bin/time");
  const [cmd, argv] = useTime
    ? ["/usr/bin/time", ["-f", "%M", "-o", timeFile, command, ...args]]
    : [command, args];
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => {
      const wall = (performance.now() - start) / 1000;
      if (code !== 0) {
        const lines = stderr
          .trim()
          .split("\n")
          .filter((l) => !l.startsWith("Command exited"));
        return reject(new Error(lines.slice(-1)[0] ?? `exit ${code}`));
      }
      const rssMB = useTime
        ? Number(readFileSync(timeFile, "utf8").trim().split(/\s+/).pop()) / 1024
        : undefined;
      resolve({ wall, rssMB, stdout });
    });
  });
}

async function best(command, args, times) {
  let result;
  for (let i = 0; i < times; i++) {
    const r = await once(command, args);
    if (result === undefined || r.wall < result.wall) result = r;
  }
  return result;
}

const lastJson = (stdout) => JSON.parse(stdout.trim().split("\n").pop());

// ------------------------------------------------------------------------------------------ python

/** The pins of requirements-flavors.txt: the required lines, and the `# optional: pkg==v` ones. */
function pins() {
  const lines = readFileSync(REQUIREMENTS, "utf8").split("\n");
  const required = lines.map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const optional = lines.map((l) => /^#\s*optional:\s*(.+?)\s*$/.exec(l)?.[1]).filter(Boolean);
  return { required, optional };
}

const MODULE = { lleaves: "lleaves", treelite: "treelite", tl2cgen: "tl2cgen" };

/** Builds .bench/venv-flavors when missing; each optional peer on its own, a failure remembered. */
function ensurePython() {
  const { required, optional } = pins();
  const canImport = (modules) =>
    existsSync(PYTHON) && spawnSync(PYTHON, ["-c", `import ${modules}`], { stdio: "ignore" }).status === 0;
  if (!canImport("mlflow, xgboost, lightgbm, sklearn, skops, skl2onnx, onnx")) {
    log("creating .bench/venv-flavors from bench/requirements-flavors.txt (a few minutes, once)");
    if (!existsSync(PYTHON)) execFileSync("python3", ["-m", "venv", VENV], { stdio: "inherit" });
    execFileSync(PYTHON, ["-m", "pip", "install", "--quiet", ...required], { stdio: "inherit" });
  }
  const failed = {};
  for (const pin of optional) {
    const name = pin.split("==")[0];
    const packages = pin.split(/\s+/);
    const marker = join(WORK, `install-${name}.failed`);
    if (canImport(MODULE[name] ?? name)) continue;
    if (existsSync(marker)) {
      failed[name] = readFileSync(marker, "utf8").trim();
      continue;
    }
    log(`installing the optional peer ${pin}`);
    const r = spawnSync(PYTHON, ["-m", "pip", "install", "--quiet", ...packages], { encoding: "utf8" });
    if (r.status !== 0 || !canImport(MODULE[name] ?? name)) {
      const text = `${r.stdout ?? ""}\n${r.stderr ?? ""}`
        .trim()
        .split("\n")
        .filter((l) => l.trim());
      failed[name] = (text.pop() ?? `exit ${r.status}`).trim().slice(0, 200);
      writeFileSync(marker, `${failed[name]}\n`); // delete the file to try again
      log(`${pin} did not install: ${failed[name]}`);
    }
  }
  return failed;
}

// ------------------------------------------------------------------------------------------ agreement

const readF64 = (path) => {
  const b = readFileSync(path);
  return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
};

/** Max abs error, and max relative error over rows whose reference is at least 1 in magnitude. */
function agreement(values, reference) {
  let abs = 0;
  let rel = 0;
  if (values.length !== reference.length)
    return { error: `rows differ: ${values.length} vs ${reference.length}` };
  for (let i = 0; i < values.length; i++) {
    const d = Math.abs(values[i] - reference[i]);
    if (!(d <= abs)) abs = Number.isNaN(d) ? Number.NaN : d;
    const r = Math.abs(reference[i]);
    if (r >= 1 && d / r > rel) rel = d / r;
  }
  return { maxAbs: abs, maxRel: rel };
}

async function e2ePredictions(path) {
  const db = await (await DuckDBInstance.create(":memory:")).connect();
  // The prediction column: `prediction` for native flavors, the signature's output name for ONNX ones.
  const names = (await db.runAndReadAll(`DESCRIBE SELECT * FROM '${path}'`))
    .getRowObjectsJS()
    .map((r) => r.column_name);
  const column = names.includes("prediction")
    ? "prediction"
    : names.find((n) => n !== "instant" && n !== "dteday");
  const rows = (
    await db.runAndReadAll(`SELECT CAST("${column}" AS DOUBLE) AS p FROM '${path}'`)
  ).getColumns()[0];
  return Float64Array.from(rows, Number);
}

// ------------------------------------------------------------------------------------------ contenders

const LABEL = { xgb: "XGBoost 500/8", lgb: "LightGBM 500/8 (255 leaves)", rf: "RF 200/20 (sklearn)" };

async function python(model, contender, threads, tag) {
  const out = join(PRED, `${model}-${tag}.f64`);
  const r = await once(PYTHON, [
    join(ROOT, "bench", "flavors.py"),
    "predict",
    WORK,
    model,
    contender,
    String(threads),
    String(repeat),
    out,
  ]);
  return { ...lastJson(r.stdout), rssMB: r.rssMB, out };
}

async function enginePredict(folder, tag, threads = CORES) {
  const out = join(PRED, `${tag}.f64`);
  const r = await once(process.execPath, [
    join(ROOT, "bench", "flavors-predict.mjs"),
    join(WORK, "models", folder),
    INPUT,
    String(repeat),
    out,
    "65536",
    String(threads),
  ]);
  return { ...lastJson(r.stdout), rssMB: r.rssMB, out };
}

async function endToEnd(registered, tag) {
  mkdirSync(OUT, { recursive: true });
  const output = join(OUT, `${tag}.parquet`);
  const r = await best(
    process.execPath,
    [
      join(ROOT, "bin", "mlbatch.js"),
      "run",
      join(ROOT, "bench", "confs", "flavors.yaml"),
      "-e",
      `job: {outputs: {path: '${output}'}, mlflow_service: {registry_name: ${registered}}}`,
    ],
    repeat,
  );
  return { predict_s: r.wall, rssMB: r.rssMB, output };
}

/** The contenders of one model, in table order: [name, threads note, run()]. */
function contenders(model, failed) {
  const list = [
    [
      `${model === "rf" ? "scikit-learn" : model === "xgb" ? "xgboost" : "lightgbm"} predict, ${CORES} threads`,
      "library",
      () => python(model, "library", CORES, "library"),
    ],
    [
      `${model === "rf" ? "scikit-learn" : model === "xgb" ? "xgboost" : "lightgbm"} predict, 1 thread`,
      "library1",
      () => python(model, "library", 1, "library1"),
    ],
  ];
  const optional = (pkg, name, tag, run) =>
    list.push([
      name,
      tag,
      failed[pkg] !== undefined ? () => ({ skipped: `did not install: ${failed[pkg]}` }) : run,
    ]);
  if (model === "lgb")
    optional("lleaves", `lleaves compiled, ${CORES} threads`, "lleaves", () =>
      python(model, "lleaves", CORES, "lleaves"),
    );
  if (model !== "rf") {
    const tl = failed.tl2cgen ?? failed.treelite;
    list.push([
      `treelite/TL2cgen compiled, ${CORES} threads`,
      "tl2cgen",
      tl !== undefined
        ? () => ({ skipped: `did not install: ${tl}` })
        : () => python(model, "tl2cgen", CORES, "tl2cgen"),
    ]);
    if (opts.gtil)
      optional("treelite", `treelite GTIL, ${CORES} threads`, "gtil", () =>
        python(model, "gtil", CORES, "gtil"),
      );
  }
  if (model === "rf") {
    list.push([
      `mlbatch engine predict (skops), ${CORES} threads`,
      "engine",
      () => enginePredict("rf_skops", "rf-engine"),
    ]);
    list.push([
      `mlbatch engine predict (ONNX), ${CORES} threads`,
      "engine-onnx",
      () => enginePredict("rf_onnx", "rf-engine-onnx"),
    ]);
    if (!opts["skip-e2e"]) {
      list.push(["mlbatch run end to end (skops)", "e2e", () => endToEnd("bench_rf_skops", "rf-skops")]);
      list.push(["mlbatch run end to end (ONNX)", "e2e-onnx", () => endToEnd("bench_rf_onnx", "rf-onnx")]);
    }
  } else {
    list.push([
      `mlbatch engine predict, ${CORES} threads`,
      "engine",
      () => enginePredict(model, `${model}-engine`),
    ]);
    list.push([
      "mlbatch engine predict, 1 thread",
      "engine1",
      () => enginePredict(model, `${model}-engine1`, 1),
    ]);
    if (!opts["skip-e2e"])
      list.push(["mlbatch run end to end", "e2e", () => endToEnd(`bench_${model}`, model)]);
  }
  return list;
}

// ------------------------------------------------------------------------------------------ main

const fmt = (x, digits = 2) => (x === undefined || x === null || Number.isNaN(x) ? "" : x.toFixed(digits));
const sci = (x) => (x === undefined ? "" : x === 0 ? "0" : x.toExponential(1));

async function main() {
  mkdirSync(PRED, { recursive: true });
  const failed = ensurePython();
  log("preparing inputs, models and registry (bench/flavors.py prepare; cached in .bench/flavors/)");
  execFileSync(PYTHON, [join(ROOT, "bench", "flavors.py"), "prepare", WORK], { stdio: "inherit" });
  if (!existsSync(join(ROOT, "dist", "models", "native", "index.js"))) {
    execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
  }
  const rows = [];
  for (const model of models) {
    let reference;
    let referenceValues;
    for (const [contender, tag, run] of contenders(model, failed)) {
      log(`${model}: ${contender}`);
      let result;
      try {
        result = await run();
      } catch (error) {
        result = { skipped: `failed: ${String(error.message).slice(0, 200)}` };
      }
      const row = { contender, model: LABEL[model], tag, rows: 1_001_088, ...result };
      if (tag === "library") {
        reference = result.predict_s;
        if (result.out) referenceValues = readF64(result.out);
      }
      if (result.predict_s !== undefined) {
        row.wall_s = result.predict_s;
        row.rows_per_s = row.rows / result.predict_s;
        row.ratio = reference && result.predict_s / reference;
        try {
          const values = result.out
            ? readF64(result.out)
            : result.output
              ? await e2ePredictions(result.output)
              : undefined;
          if (values && referenceValues && tag !== "library")
            row.agreement = agreement(values, referenceValues);
        } catch (error) {
          row.agreement = { error: `not compared: ${String(error.message).split("\n")[0].slice(0, 120)}` };
        }
      }
      rows.push(row);
      writeFileSync(join(WORK, "results.partial.json"), `${JSON.stringify(rows, null, 2)}\n`);
      log(`  ${row.skipped ?? `${fmt(row.wall_s, 3)} s, ratio ${fmt(row.ratio)}`}`);
    }
  }
  const table = render(rows);
  process.stdout.write(`${table}\n`);
  const machine = {
    nproc: CORES,
    cpu: cpus()[0]?.model,
    node: process.version,
    date: new Date().toISOString(),
  };
  writeFileSync(join(WORK, "results.json"), `${JSON.stringify({ machine, repeat, rows }, null, 2)}\n`);
  writeFileSync(join(WORK, "results.md"), `${table}\n`);
  log("written .bench/flavors/results.json and results.md");
  rmSync(OUT, { recursive: true, force: true });
}

function render(rows) {
  const header =
    "| contender | model | rows | wall s | rows/s | ratio to library MT | notes |\n|---|---|--:|--:|--:|--:|---|";
  const lines = rows.map((r) => {
    const notes = [];
    if (r.skipped) notes.push(r.skipped);
    if (r.how) notes.push(r.how);
    if (r.version) notes.push(r.version);
    if (r.load_s !== undefined) notes.push(`load ${fmt(r.load_s)} s`);
    if (r.compile_s !== undefined && r.compile_s !== null) notes.push(`compile ${fmt(r.compile_s, 1)} s`);
    if (r.compile_cached) notes.push("compiled model cached");
    if (r.tag?.startsWith("e2e")) notes.push("whole `mlbatch run`: read Parquet, predict, write Parquet");
    if (r.rssMB !== undefined) notes.push(`peak RSS ${Math.round(r.rssMB)} MB`);
    if (r.agreement?.error) notes.push(r.agreement.error);
    else if (r.agreement)
      notes.push(`vs library: max abs ${sci(r.agreement.maxAbs)}, max rel ${sci(r.agreement.maxRel)}`);
    const rate = r.rows_per_s === undefined ? "" : Math.round(r.rows_per_s).toLocaleString("en-US");
    return `| ${r.contender} | ${r.model} | ${r.rows.toLocaleString("en-US")} | ${fmt(r.wall_s, 3)} | ${rate} | ${fmt(r.ratio)} | ${notes.join("; ")} |`;
  });
  return [header, ...lines].join("\n");
}

await main();
