// The tree engine's own predict time for the same rows as raw-ort.mjs, in Node, with the data already in
// memory as the typed arrays the model takes. Reads the rows (untimed), then times the engine over batches
// (the ONNX Runtime nodes before the ensemble included).
// usage: node bench/raw-trees.mjs MODEL_DIR INPUTS.parquet [BATCH_SIZE] [THREADS] [LIMIT]
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { TreeSession } from "../dist/models/trees/tree-session.js";
import { readColumns } from "./columns.mjs";

const [dir, inputs, batchArg, threadsArg, limitArg] = process.argv.slice(2);
const batchSize = Number(batchArg ?? 16384);
const t0 = performance.now();
const session = await TreeSession.create(
  join(dir, "model.onnx"),
  {},
  Number(threadsArg ?? availableParallelism()),
);
const loaded = performance.now();
const meta = session.inputMetadata;
const { count, columns } = await readColumns(meta, inputs, limitArg);
// Two batches in flight, as mlbatch runs a model: ONNX Runtime computes the next batch's features while
// the engine walks the trees of the current one.
let checksum = 0;
const start = performance.now();
const pending = [];
const settle = async () => {
  const out = await pending.shift();
  checksum += out[session.outputMetadata[0].name].data[0];
};
for (let from = 0; from < count; from += batchSize) {
  const n = Math.min(batchSize, count - from);
  const feeds = Object.fromEntries(
    meta.map((m, i) => [m.name, { type: m.type, data: columns[i].subarray(from, from + n), dims: [n, 1] }]),
  );
  pending.push(session.run(feeds));
  if (pending.length >= 2) await settle();
}
while (pending.length > 0) await settle();
const predictTime = performance.now() - start;
const memory = { memory_mb: session.memoryBytes / 2 ** 20, forest_mb: session.forestBytes / 2 ** 20 };
await session.release();
console.log(
  JSON.stringify({
    rows: count,
    load_s: (loaded - t0) / 1000,
    predict_s: predictTime / 1000,
    checksum,
    engine: session.description,
    ...memory,
  }),
);
