import type ort from "onnxruntime-node";
import { messageOf } from "../../errors.js";
import type { OnnxModelFile, OnnxNode } from "../onnx/graph.js";
import { OnnxWorker, type WireTensor } from "../onnx-worker.js";
import { Prelude } from "./prelude/index.js";
import { Unsupported } from "./unsupported.js";

/** What computes a tree ensemble's input from a batch's feeds. */
export interface InputStage {
  /** What runs it, for the engine's description (`, ONNX Runtime before`), or "". */
  readonly description: string;
  /** The ensemble's input, holding no buffer of the feeds (their owner refills them once run() returns). */
  run(feeds: Readonly<Record<string, WireTensor>>): Promise<WireTensor | undefined>;
  /**
   * For nodes run in mlbatch: starts ONNX Runtime's session of them in its own thread, which takes the
   * batches once it is up (the same bits): for a forest so small that computing its input on the main
   * thread would be the job's bottleneck.
   */
  offload?: (() => void) | undefined;
  /** Whether ONNX Runtime has taken the batches over (after {@link InputStage.offload}). */
  readonly offloaded?: boolean;
  /** Takes back an input {@link InputStage.run} made, once read, to be refilled by a later batch. */
  recycle?(x: WireTensor): void;
  release(): Promise<void>;
}

/** The nodes the ensemble's input depends on, and their sub-model for ONNX Runtime. */
export interface Before {
  readonly nodes: readonly OnnxNode[];
  readonly subModel: Uint8Array | undefined;
}

/**
 * The stage that computes the ensemble's input `x`: the graph input itself, the nodes before it run in
 * mlbatch when it does them all (see {@link Prelude}), else ONNX Runtime's session of their sub-model in
 * a worker thread.
 *
 * @throws Unsupported when ONNX Runtime refuses the sub-model
 */
export async function inputStage(
  model: OnnxModelFile,
  before: Before,
  x: string,
  options: ort.InferenceSession.SessionOptions,
  fuse = true,
): Promise<InputStage> {
  const done = async () => undefined;
  if (before.subModel === undefined) {
    return { description: "", run: async (feeds) => copyTensor(feeds[x]), release: done };
  }
  const prelude = Prelude.of(model, before.nodes, x, { fuse });
  if (prelude !== undefined) return preludeStage(prelude, before.subModel, x, options);
  let worker: OnnxWorker;
  try {
    worker = await OnnxWorker.create(before.subModel, options);
  } catch (error) {
    // ONNX Runtime refusing a cut of a graph it loads whole (e.g. a type it infers differently).
    throw new Unsupported(
      `ONNX Runtime rejects the nodes before the ensemble as a graph: ${messageOf(error)}`,
    );
  }
  return {
    description: ", ONNX Runtime before",
    run: (feeds) => worker.run(feeds as Record<string, WireTensor>).then((out) => out[x]),
    release: () => worker.release(),
  };
}

/** Ensemble inputs kept for reuse: the batches in flight. */
const SPARE_INPUTS = 4;

/**
 * The nodes before the ensemble in mlbatch, and, when they are not fused, ONNX Runtime in a thread once
 * {@link InputStage.offload}ed.
 */
function preludeStage(
  prelude: Prelude,
  subModel: Uint8Array,
  x: string,
  options: ort.InferenceSession.SessionOptions,
): InputStage {
  let worker: OnnxWorker | undefined;
  let starting: Promise<void> | undefined;
  // Inputs read by the engine, refilled by later batches: no new matrix per batch.
  const spare: Float32Array[] = [];
  return {
    description: ", preprocessing in mlbatch",
    run: async (feeds) => {
      if (worker !== undefined) return (await worker.run(feeds as Record<string, WireTensor>))[x];
      const out = prelude.run(feeds, spare.pop());
      // Identity and Reshape pass a feed's buffer along: it is copied, as a feed is.
      return Object.values(feeds).some((feed) => feed.data === out.data) ? copyTensor(out) : out;
    },
    recycle: (t) => {
      if (t.data instanceof Float32Array && spare.length < SPARE_INPUTS)
        spare.push(new Float32Array(t.data.buffer));
    },
    get offloaded() {
      return worker !== undefined;
    },
    // Fused, the nodes cost less here than handing the batches to another thread does.
    offload: prelude.fused
      ? undefined
      : () => {
          // ONNX Runtime refusing the sub-model leaves the batches here.
          starting ??= OnnxWorker.create(subModel, options).then(
            (session) => {
              worker = session;
            },
            () => undefined,
          );
        },
    release: async () => {
      await starting;
      await worker?.release();
    },
  };
}

/** A copy of a tensor's values (the caller may refill the original's buffer). */
export function copyTensor(tensor: WireTensor | undefined): WireTensor | undefined {
  if (tensor === undefined) return undefined;
  const data = Array.isArray(tensor.data) ? [...tensor.data] : (tensor.data as Float32Array).slice();
  return { ...tensor, data };
}
