// The limit: ONNX Runtime's own predict time for the same rows, in Node, with the data already in memory
// as the typed arrays the model takes. Reads the rows (untimed), then times session.run over batches.
// usage: node bench/raw-ort.mjs MODEL_DIR INPUTS.parquet [BATCH_SIZE] [SESSION_OPTIONS_JSON]
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import ort from "onnxruntime-node";

const [dir, inputs, batchArg, optionsArg] = process.argv.slice(2);
const batchSize = Number(batchArg ?? 65536);
const t0 = performance.now();
const session = await ort.InferenceSession.create(join(dir, "model.onnx"), JSON.parse(optionsArg ?? "{}"));
const loaded = performance.now();
const SQL_TYPE = { float32: "FLOAT", float64: "DOUBLE", int64: "BIGINT", int32: "INTEGER" };
const ARRAY = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array };
const meta = session.inputMetadata;
const db = await (await DuckDBInstance.create(":memory:")).connect();
const select = meta.map((m) => `CAST("${m.name}" AS ${SQL_TYPE[m.type]}) AS "${m.name}"`).join(", ");
const count = Number(
  (await db.runAndReadAll(`SELECT count(*) AS n FROM '${inputs}'`)).getRowObjectsJS()[0].n,
);
const columns = meta.map((m) => new ARRAY[m.type](count));
const stream = await db.stream(`SELECT ${select} FROM '${inputs}'`);
let offset = 0;
for (let chunk = await stream.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await stream.fetchChunk()) {
  meta.forEach((_, i) => {
    columns[i].set(chunk.getColumnVector(i).items, offset);
  });
  offset += chunk.rowCount;
}
let predictTime = 0;
let checksum = 0;
for (let from = 0; from < count; from += batchSize) {
  const n = Math.min(batchSize, count - from);
  const feeds = Object.fromEntries(
    meta.map((m, i) => [m.name, new ort.Tensor(m.type, columns[i].subarray(from, from + n), [n, 1])]),
  );
  const start = performance.now();
  const out = await session.run(feeds);
  predictTime += performance.now() - start;
  checksum += out[session.outputNames[0]].data[0];
}
console.log(
  JSON.stringify({ rows: count, load_s: (loaded - t0) / 1000, predict_s: predictTime / 1000, checksum }),
);
