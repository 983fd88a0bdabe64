import type ort from "onnxruntime-node";
import { messageOf } from "../../errors.js";
import { OnnxModelFile as ModelFile, type OnnxModelFile, TENSOR_TYPES } from "../onnx/graph.js";
import { OnnxWorker, type Session, type WireTensor } from "../onnx-worker.js";
import type { ForestCache } from "./cache/forest-cache.js";
import { cut } from "./cut.js";
import { compileForest, type Forest } from "./forest/index.js";
import { copyTensor, type InputStage, inputStage } from "./input-stage.js";
import { INLINE_VISITS, TreePool } from "./pool.js";
import { Unsupported } from "./unsupported.js";

/**
 * Ensembles from this many bytes of attributes (about 30,000 nodes) start the engine's worker threads
 * while they load: their batches will need them.
 */
const EAGER_FROM_BYTES = 1 << 20;

/**
 * Forests with fewer node visits per row (the sum of the trees' depths) take less time per row than the
 * nodes before them run node by node in mlbatch (about 0.2 microseconds a row for the bikes pipeline):
 * for large batches, ONNX Runtime computes their input in its own thread instead (see
 * `InputStage.offload`; fused nodes, about 0.04 microseconds a row, stay).
 */
const OFFLOAD_BELOW_VISITS = 512;

/**
 * An ONNX model whose tree ensemble runs in mlbatch's engine: the nodes before the ensemble (encoders,
 * casts, concatenations) run in mlbatch when it does them all exactly as ONNX Runtime does (see
 * `prelude/`), else in ONNX Runtime, as do the nodes after it, if any; the engine runs the ensemble in
 * between. It behaves as one ONNX Runtime session.
 *
 * @example
 * ```ts
 * const session = await TreeSession.create("model.onnx", {}, 2);
 * const outputs = await session.run(feeds);
 * await session.release();
 * ```
 */
export class TreeSession implements Session {
  private constructor(
    private readonly forest: Forest,
    /** The ensemble node's input and output names (the node itself holds the model file's bytes). */
    private readonly tree: { readonly inputs: readonly string[]; readonly outputs: readonly string[] },
    private readonly pool: TreePool,
    private readonly pre: InputStage,
    private readonly post: OnnxWorker | undefined,
    private readonly postInputs: readonly string[],
    readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[],
    readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[],
  ) {
    this.visits = forest.kernel.depths.reduce((sum, depth) => sum + depth, 0);
  }

  /** Node visits per row: the sum of the trees' depths. */
  private readonly visits: number;

  /**
   * Reads the model, compiles its ensemble (or reads it from the forest cache) and starts the sessions
   * and workers.
   *
   * @param source - the model file, or its graph as parsed (e.g. a classifier's, its ZipMaps taken off)
   * @param threads - the engine's worker threads
   * @param forests - the cache of compiled forests, and the model file whose digest keys its entry
   * @param stage - `fuse: false` runs the nodes before the ensemble node by node (see `prelude/`), for tests
   * @throws Unsupported with the reason when the engine cannot run this model exactly as ONNX Runtime does
   * @throws Error when a sub-model cannot be loaded
   */
  static async create(
    source: string | OnnxModelFile,
    options: ort.InferenceSession.SessionOptions,
    threads: number,
    forests?: { readonly cache: ForestCache; readonly file: string },
    stage: { readonly fuse?: boolean } = {},
  ): Promise<TreeSession> {
    let model: OnnxModelFile;
    try {
      model = typeof source === "string" ? ModelFile.read(source) : source;
    } catch (error) {
      throw new Unsupported(`the model file cannot be read: ${(error as Error).message}`);
    }
    const plan = cut(model);
    // A large forest's workers boot while it is read or compiled; a small one's start with the first
    // batch worth them (small batches are scored on this thread).
    let size = 0;
    for (const attribute of plan.tree.attributes.values()) size += attribute.byteLength;
    const starting = size >= EAGER_FROM_BYTES ? TreePool.start(threads) : undefined;
    // The nodes around the ensemble are light: one thread, so that ONNX Runtime's spinning thread pool
    // does not take cores from the engine's workers.
    const light = { ...options, intraOpNumThreads: 1, interOpNumThreads: 1 };
    const pre = inputStage(model, plan.pre, plan.tree.inputs[0]!, light, stage.fuse);
    const post = subModel(plan.post, light, "after");
    // Their failures are read below; until then they must not count as unhandled.
    for (const session of [pre, post]) session.catch(() => undefined);
    let forest: Forest;
    try {
      forest = forests ? await forests.cache.forest(forests.file, plan.tree) : compileForest(plan.tree);
    } catch (error) {
      await Promise.all([starting?.cancel(), releaseAll([pre, post])]);
      throw error;
    }
    const pool = (starting ? starting.attach(forest) : Promise.resolve(TreePool.lazy(forest, threads))).then(
      (p) => ({ release: () => p.close(), pool: p }),
    );
    const settled = await Promise.allSettled([pre, post, pool]);
    const failed = settled.find((result) => result.status === "rejected");
    if (failed !== undefined) {
      await releaseAll([pre, post, pool]);
      throw failed.reason;
    }
    const [preSession, postSession] = [await pre, await post];
    const tree = { inputs: [...plan.tree.inputs], outputs: [...plan.tree.outputs] };
    return new TreeSession(
      forest,
      tree,
      (await pool).pool,
      preSession!,
      postSession,
      plan.postInputs,
      // Initializers listed as graph inputs (IR version 3) are not inputs to feed, as in ONNX Runtime.
      model.inputs.filter((input) => !model.isInitializer(input.name)).map(metadata),
      outputMetadata(model, tree.outputs, forest, postSession),
    );
  }

  /** What runs, for logs: `trees (10 trees, 1,234 nodes, 2 threads)`. */
  get description(): string {
    const f = this.forest;
    return (
      `trees (${thousands(f.kernel.nTrees)} trees, ${thousands(f.nodeCount)} nodes, ` +
      `${this.pool.threads} threads${this.pre.description}${this.post ? ", ONNX Runtime after" : ""})`
    );
  }

  /** Bytes of the forest's node arrays. */
  get forestBytes(): number {
    return this.forest.bytes;
  }

  /** Whether ONNX Runtime computes the ensemble's input now (a small forest's large batches, see `offload`). */
  get offloaded(): boolean {
    return this.pre.offloaded ?? false;
  }

  /** Bytes of the engine's shared memory: the node arrays and the buffers of the batches in flight. */
  get memoryBytes(): number {
    return this.pool.bytes;
  }

  /** @inheritdoc */
  async run(feeds: Record<string, WireTensor>): Promise<Record<string, WireTensor>> {
    // What is read from the feeds is read (copied) now: the caller refills its buffers once run() returns.
    const xName = this.tree.inputs[0]!;
    const passed = Object.fromEntries(this.postInputs.map((name) => [name, copyTensor(feeds[name]!)]));
    const batchRows = Object.values(feeds)[0]?.dims[0] ?? 0;
    if (this.pre.offload && this.visits < OFFLOAD_BELOW_VISITS && batchRows * this.visits >= INLINE_VISITS) {
      this.pre.offload();
    }
    const x = await this.pre.run(feeds);
    if (x === undefined || !(x.data instanceof Float32Array)) {
      throw new Error(`the tree ensemble's input "${xName}" is not a float32 tensor`);
    }
    const n = x.dims.length === 2 ? x.dims[0]! : 1;
    const width = x.dims.length === 2 ? x.dims[1]! : x.dims[0]!;
    if (width < this.forest.nFeatures) {
      throw new Error(
        `the tree ensemble reads feature ${this.forest.nFeatures - 1} but its input has ${width} features`,
      );
    }
    const { z, label } = await this.pool.run(x.data, n, width);
    this.pre.recycle?.(x);
    const E = this.forest.kernel.nTargets;
    const outputs: Record<string, WireTensor> = {};
    const labels = this.forest.labels;
    if (labels === undefined) outputs[this.tree.outputs[0]!] = { type: "float32", data: z, dims: [n, E] };
    else {
      const pick = (i: number) => (i >= 0 ? i : i === -1 ? 0 : 1);
      outputs[this.tree.outputs[0]!] =
        "strings" in labels
          ? { type: "string", data: Array.from(label, (i) => labels.strings[pick(i)]!), dims: [n] }
          : {
              type: "int64",
              data: BigInt64Array.from(label, (i) => (i >= 0 ? labels.ints[i]! : BigInt(pick(i)))),
              dims: [n],
            };
      if (this.tree.outputs[1]) outputs[this.tree.outputs[1]] = { type: "float32", data: z, dims: [n, E] };
    }
    if (!this.post) return outputs;
    Object.assign(outputs, passed);
    // Graph outputs straight from the ensemble are not the post model's: they are passed along.
    return { ...outputs, ...(await this.post.run(outputs)) };
  }

  /** @inheritdoc */
  async release(): Promise<void> {
    await Promise.all([this.pool.close(), this.pre.release(), this.post?.release()]);
  }
}

/**
 * A count with commas between thousands, as `toLocaleString("en-US")` writes it, without the 30 ms its
 * first call takes to load the locale data (a tenth of a small job's run).
 */
function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Starts the ONNX Runtime worker of the sub-model after the ensemble, if there is one. */
async function subModel(
  bytes: Uint8Array | undefined,
  options: ort.InferenceSession.SessionOptions,
  where: string,
): Promise<OnnxWorker | undefined> {
  if (bytes === undefined) return undefined;
  try {
    return await OnnxWorker.create(bytes, options);
  } catch (error) {
    // ONNX Runtime refusing a cut of a graph it loads whole (e.g. a type it infers differently).
    throw new Unsupported(
      `ONNX Runtime rejects the nodes ${where} the ensemble as a graph: ${messageOf(error)}`,
    );
  }
}

/** Releases what started of sessions being created (those that failed have nothing to release). */
async function releaseAll(
  starting: readonly Promise<{ release(): Promise<void> } | undefined>[],
): Promise<void> {
  const started = await Promise.allSettled(starting);
  await Promise.all(
    started.map((result) => (result.status === "fulfilled" ? result.value?.release() : undefined)),
  );
}

/**
 * The graph's outputs as ONNX Runtime describes them: from the sub-model after the ensemble, or, for the
 * ensemble's own outputs, with the shapes the operator gives them ([N] labels, [N, targets] scores), whatever
 * the file declares.
 */
function outputMetadata(
  model: OnnxModelFile,
  treeOutputs: readonly string[],
  forest: Forest,
  post: OnnxWorker | undefined,
): ort.InferenceSession.ValueMetadata[] {
  const rows = model.inputs[0]?.shape[0] ?? "";
  return model.outputs.map((output) => {
    const after = post?.outputMetadata.find((meta) => meta.name === output.name);
    if (after !== undefined) return after;
    const scores = forest.labels === undefined || output.name === treeOutputs[1];
    const labelType = forest.labels !== undefined && "strings" in forest.labels ? "string" : "int64";
    return {
      name: output.name,
      isTensor: true,
      type: scores ? "float32" : labelType,
      shape: scores ? [rows, forest.kernel.nTargets] : [rows],
    } as ort.InferenceSession.ValueMetadata;
  });
}

function metadata(value: {
  name: string;
  elemType: number | undefined;
  shape: readonly (number | string)[];
}) {
  const type = value.elemType === undefined ? undefined : TENSOR_TYPES[value.elemType];
  return (
    type === undefined
      ? { name: value.name, isTensor: false }
      : { name: value.name, isTensor: true, type, shape: [...value.shape] }
  ) as ort.InferenceSession.ValueMetadata;
}
