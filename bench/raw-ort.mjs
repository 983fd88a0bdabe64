// The limit: ONNX Runtime's own predict time for the same rows, in Node, with the data already in memory
// as the typed arrays the model takes. Reads the rows (untimed), then times session.run over batches.
// usage: node bench/raw-ort.mjs MODEL_DIR INPUTS.parquet [BATCH_SIZE] [SESSION_OPTIONS_JSON]
import { join } from "node:path";
import ort from "onnxruntime-node";
import { readColumns } from "./columns.mjs";

const [dir, inputs, batchArg, optionsArg] = process.argv.slice(2);
const batchSize = Number(batchArg ?? 65536);
const t0 = performance.now();
const session = await ort.InferenceSession.create(join(dir, "model.onnx"), JSON.parse(optionsArg ?? "{}"));
const loaded = performance.now();
const meta = session.inputMetadata;
const { count, columns } = await readColumns(meta, inputs);
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
