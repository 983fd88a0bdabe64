// The tree engine's model load in a fresh process: TreeSession.create (the model read, its forest compiled
// or read from the forest cache, the threads started), timed from inside, as mlbatch loads a model.
// usage: node bench/load-trees.mjs MODEL_DIR [FOREST_CACHE_DIR] [THREADS]   (no cache dir, or "-": compile)
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { TreeSession } from "../dist/models/trees/tree-session.js";

const [dir, cacheDir, threadsArg] = process.argv.slice(2);
const file = join(dir, "model.onnx");
const lines = [];
const useCache = cacheDir !== undefined && cacheDir !== "-";
// Imported only with a cache, so that the script also times builds without one.
const { ForestCache } = useCache ? await import("../dist/models/trees/cache/forest-cache.js") : {};
const forests = useCache
  ? { cache: new ForestCache(cacheDir, { debug: (line) => lines.push(line) }), file }
  : undefined;
const start = performance.now();
const session = await TreeSession.create(file, {}, Number(threadsArg ?? availableParallelism()), forests);
const load = (performance.now() - start) / 1000;
const rss = process.memoryUsage().rss / 2 ** 20;
await session.release();
const cached = lines.some((line) => line.includes("Forest cache: read"));
console.log(JSON.stringify({ load_s: load, cached, rss_mb: rss, engine: session.description }));
