// mlbatch's engine predict only, for bench/flavors.mjs: loads a model folder as the job does
// (readMLmodel, then loadNativeModel for the xgboost / lightgbm / sklearn flavors, openModel for an ONNX
// one), reads the rows once with DuckDB into the typed arrays the model's inputs take (untimed), then
// times model.predict over 65,536-row batches (views of those arrays, two batches in flight as the job
// runs them); best of REPEAT passes. Prints one JSON line; writes the predictions as raw float64 to OUT.
// usage: node bench/flavors-predict.mjs MODEL_DIR INPUTS.parquet [REPEAT] [OUT.f64] [BATCH_SIZE] [THREADS]
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { DuckDBInstance } from "@duckdb/node-api";
import { openModel } from "../dist/models/loaders/open-model.js";
import { readMLmodel } from "../dist/models/mlmodel.js";
import { loadNativeModel, nativeFlavor } from "../dist/models/native/index.js";

const [dir, inputs, repeatArg, out, batchArg, threadsArg] = process.argv.slice(2);
const repeat = Number(repeatArg ?? 1);
const batchSize = Number(batchArg ?? 65536);
const threads = Number(threadsArg ?? availableParallelism());
const SQL = { float32: "FLOAT", float64: "DOUBLE", int64: "BIGINT", int32: "INTEGER" };
const ARRAY = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array };

const db = await (await DuckDBInstance.create(":memory:")).connect();
const described = (await db.runAndReadAll(`DESCRIBE SELECT * FROM '${inputs}'`)).getRowObjectsJS();
const tableColumns = described.map((r) => r.column_name).filter((c) => c !== "instant" && c !== "dteday");

const t0 = performance.now();
const uri = `models:/bench@${dir}`;
const mlmodel = await readMLmodel(dir, uri);
const options = { engineThreads: threads, intraOpNumThreads: threads };
const model =
  mlmodel.onnx === undefined && nativeFlavor(mlmodel) !== undefined
    ? await loadNativeModel(uri, mlmodel, options, tableColumns)
    : await openModel(uri, mlmodel, "prediction", options, tableColumns);
const loadS = (performance.now() - t0) / 1000;

// The rows, cast to the inputs' types (untimed).
const select = model.inputs.map((m) => `CAST("${m.name}" AS ${SQL[m.type]}) AS "${m.name}"`).join(", ");
const count = Number(
  (await db.runAndReadAll(`SELECT count(*) AS n FROM '${inputs}'`)).getRowObjectsJS()[0].n,
);
const columns = model.inputs.map((m) => new ARRAY[m.type](count));
const stream = await db.stream(`SELECT ${select} FROM '${inputs}'`);
let offset = 0;
for (let chunk = await stream.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await stream.fetchChunk()) {
  for (let i = 0; i < columns.length; i++) columns[i].set(chunk.getColumnVector(i).items, offset);
  offset += chunk.rowCount;
}

const predictions = new Float64Array(count);
async function pass() {
  const pending = [];
  const settle = async () => {
    const { from, result } = pending.shift();
    const batch = await result;
    const column = batch.columns.find((c) => c.name === "prediction") ?? batch.columns[0];
    for (let i = 0; i < batch.length; i++) predictions[from + i] = Number(column.data[i]);
  };
  for (let from = 0; from < count; from += batchSize) {
    const n = Math.min(batchSize, count - from);
    const batch = {
      length: n,
      columns: model.inputs.map((m, i) => ({
        name: m.name,
        type: m.type,
        data: columns[i].subarray(from, from + n),
      })),
    };
    pending.push({ from, result: model.predict(batch) });
    if (pending.length >= 2) await settle();
  }
  while (pending.length > 0) await settle();
}
let best = Number.POSITIVE_INFINITY;
for (let r = 0; r < repeat; r++) {
  const start = performance.now();
  await pass();
  best = Math.min(best, (performance.now() - start) / 1000);
}
await model.close();
if (out) writeFileSync(out, Buffer.from(predictions.buffer));
console.log(
  JSON.stringify({
    rows: count,
    load_s: loadS,
    predict_s: best,
    threads,
    batch_size: batchSize,
    engine: model.engine,
  }),
);
