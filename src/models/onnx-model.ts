import { availableParallelism } from "node:os";
import { join } from "node:path";
import type ort from "onnxruntime-node";
import { allocate, type Batch, type Column, type ColumnData, type ColumnType } from "../data/batch.js";
import { MlbatchError, messageOf } from "../errors.js";
import type { DebugLog } from "./debug-log.js";
import { type FeedOptions, type FeedPlan, planFeeds } from "./feeds.js";
import type { MLmodel } from "./mlmodel.js";
import type { FeatureSpec, Model, OutputSpec } from "./model.js";
import { OnnxModelFile } from "./onnx/graph.js";
import { withoutZipMaps, ZipMapKept, type ZipMapOutput } from "./onnx/zipmap.js";
import { OnnxWorker, type Session, type WireTensor } from "./onnx-worker.js";
import { type OutputNaming, type OutputSource, planOutputs } from "./outputs.js";
import { type SessionOptions, sessionOptions } from "./session-options.js";
import type { ForestCache } from "./trees/cache/forest-cache.js";
import { TreeSession } from "./trees/tree-session.js";
import { Unsupported } from "./trees/unsupported.js";

export type { OutputNaming } from "./outputs.js";

/**
 * An MLflow `onnx`-flavored model run by ONNX Runtime. The table feeds the graph as MLflow does it:
 * several graph inputs take one column each, matched by name; a single graph input takes all signature
 * columns, in order, as one 2-D tensor (without a column signature: `feature_columns`, the input
 * example's columns or the table's, see {@link planFeeds}). Columns are cast (in SQL, by the reader) to
 * the tensor types the graph declares, e.g. float64 to float32. A classifier's ZipMap is taken off the
 * graph: its probabilities come out as one column per class (see {@link planOutputs}).
 *
 * @example
 * ```ts
 * const model = await OnnxModel.create("models:/bikes/2", mlmodel, "signature");
 * const outputs = await model.predict(batch);
 * await model.close();
 * ```
 */
export class OnnxModel implements Model {
  private constructor(
    readonly uri: string,
    readonly engine: string,
    private readonly session: Session,
    private readonly plan: FeedPlan,
    readonly inputs: readonly FeatureSpec[],
    readonly outputs: readonly OutputSpec[],
    private readonly sources: readonly OutputSource[],
  ) {}

  /**
   * Creates the ONNX Runtime session of a model folder and plans how columns feed it.
   *
   * @param uri - the model URI, for messages
   * @param mlmodel - the model folder's MLmodel
   * @param naming - how output columns are named
   * @param options - session options (they win over the model's MLflow `onnx_session_options`)
   * @param feeds - what names the columns of a model whose signature does not name them
   * @param context - the cache of compiled forests, and where to log what loading did
   * @throws MlbatchError `E_MODEL_LOAD` when the model has no `onnx` flavor or the graph cannot be fed;
   * `E_CONFIG` or `E_SCHEMA` when the columns named to feed it do not fit (see {@link planFeeds})
   */
  static async create(
    uri: string,
    mlmodel: MLmodel,
    naming: OutputNaming,
    options: SessionOptions = {},
    feeds: FeedOptions = {},
    context: LoadContext = {},
  ): Promise<OnnxModel> {
    if (mlmodel.onnx === undefined) {
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${uri} has no "onnx" flavor (flavors: ${mlmodel.flavors.join(", ") || "none"}): mlbatch runs ONNX models. ` +
          "Export the model to ONNX (for scikit-learn: skl2onnx.to_onnx(pipeline, X[:1])) and register it with " +
          "mlflow.onnx.log_model(onnx_model, ..., signature=signature).",
      );
    }
    const file = join(mlmodel.directory, mlmodel.onnx.data);
    const graph = await readGraph(file);
    // Errors only: ONNX Runtime prints its warnings on stderr, some once per batch (onnxmltools declares
    // a classifier's label of shape [1], and ONNX Runtime warns that the batch has more rows).
    const ortOptions = {
      logSeverityLevel: 3 as const,
      ...sessionOptions(options, mlmodel.onnx.sessionOptions),
    };
    const { session, engine } = await openSession(uri, graph, ortOptions, options, context);
    try {
      const { plan, inputs } = planFeeds(uri, session, mlmodel, feeds);
      const hint = outputHint(graph);
      const { outputs, sources } = planOutputs(uri, session, mlmodel, naming, graph.zipmaps, hint);
      return new OnnxModel(uri, engine, session, plan, inputs, outputs, sources);
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  /** @inheritdoc */
  async predict(batch: Batch): Promise<Batch> {
    const feeds = this.feeds(batch);
    let results: Record<string, WireTensor>;
    try {
      results = await this.session.run(feeds);
    } catch (error) {
      throw new MlbatchError(
        "E_PREDICT",
        `model ${this.uri} failed to predict a batch of ${batch.length} rows: ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
    const columns = this.outputs.map((spec, i): Column => {
      const source = this.sources[i]!;
      const data = results[source.output]!.data as ColumnData;
      if (data.length !== batch.length * source.width) {
        throw new MlbatchError(
          "E_PREDICT",
          `model ${this.uri}: output "${source.output}" has ${data.length} values for a batch of ${batch.length} ` +
            `rows, not ${batch.length * source.width}`,
        );
      }
      return {
        name: spec.name,
        type: spec.type,
        data: source.width === 1 ? data : stride(data, spec.type, source, batch.length),
      };
    });
    return { length: batch.length, columns };
  }

  /** @inheritdoc */
  async close(): Promise<void> {
    await this.session.release();
  }

  private feeds(batch: Batch): Record<string, WireTensor> {
    const n = batch.length;
    if (this.plan.kind === "columns") {
      const feeds: Record<string, WireTensor> = {};
      this.plan.inputs.forEach((input, i) => {
        const column = batch.columns[i]!;
        feeds[input.name] = tensor(column.type, column.data, input.rank === 1 ? [n] : [n, 1]);
      });
      return feeds;
    }
    // All columns as one row-major [n, k] tensor.
    const k = batch.columns.length;
    const type = this.inputs[0]!.type;
    const matrix = allocate(type, n * k) as Float32Array;
    batch.columns.forEach((column, j) => {
      const data = column.data as Float32Array;
      for (let r = 0; r < n; r++) matrix[r * k + j] = data[r]!;
    });
    return { [this.plan.input]: tensor(type, matrix, [n, k]) };
  }
}

/** What loading a model may use besides its options. */
export interface LoadContext {
  /** The tree engine's cache of compiled forests (none: forests are compiled every time). */
  readonly forestCache?: ForestCache;
  /** Where to say, at debug level, what loading did. */
  readonly log?: DebugLog;
}

/** A model file as the sessions take it, with the ZipMaps taken off when it has any. */
interface Graph {
  readonly file: string;
  /** The file, or the bytes of the graph without its ZipMaps. */
  readonly source: string | Uint8Array;
  /** The graph as parsed, for the tree engine (undefined when mlbatch's reader cannot parse it). */
  readonly parsed: OnnxModelFile | undefined;
  readonly zipmaps: readonly ZipMapOutput[];
  /** The `producer_name` (skl2onnx, OnnxMLTools, ...), for hints. */
  readonly producer: string;
  /** Why a ZipMap had to stay, when one did. */
  readonly kept: string | undefined;
}

/**
 * Reads the model file and takes its ZipMaps off. A file mlbatch's reader cannot parse is left to
 * ONNX Runtime, which says what is wrong with it.
 */
async function readGraph(file: string): Promise<Graph> {
  let parsed: OnnxModelFile;
  try {
    parsed = OnnxModelFile.read(file);
  } catch {
    return { file, source: file, parsed: undefined, zipmaps: [], producer: "", kept: undefined };
  }
  const producer = parsed.producerName;
  try {
    const rewritten = withoutZipMaps(parsed);
    if (rewritten === undefined)
      return { file, source: file, parsed, zipmaps: [], producer, kept: undefined };
    const { bytes, zipmaps } = rewritten;
    return { file, source: bytes, parsed: OnnxModelFile.parse(bytes), zipmaps, producer, kept: undefined };
  } catch (error) {
    if (!(error instanceof ZipMapKept)) throw error;
    return { file, source: file, parsed, zipmaps: [], producer, kept: error.message };
  }
}

/**
 * What to do about a graph output that is not a tensor: for a ZipMap mlbatch had to keep, how to export
 * the classifier without it, in its converter's terms.
 */
function outputHint(graph: Graph): string {
  if (graph.kept === undefined) return " Export the model with tensor outputs only.";
  const why = ` It comes from a ZipMap, which mlbatch takes off a classifier, but not here: ${graph.kept}.`;
  if (graph.producer.toLowerCase() === "onnxmltools") {
    return (
      `${why} Export the model without ZipMap with onnxmltools' option zipmap=False ` +
      "(e.g. onnxmltools.convert_lightgbm(model, initial_types=..., zipmap=False))."
    );
  }
  if (graph.producer === "skl2onnx") {
    return (
      `${why} Export the classifier without ZipMap with skl2onnx's option ` +
      'options={id(classifier): {"zipmap": False}} (to_onnx(pipeline, X, options=...)).'
    );
  }
  return `${why} Export the classifier without ZipMap.`;
}

/**
 * The session that runs a model: the tree engine when asked (`trees`) or allowed (`auto`) and the
 * model has a tree ensemble it runs exactly, else ONNX Runtime.
 */
async function openSession(
  uri: string,
  graph: Graph,
  ortOptions: ort.InferenceSession.SessionOptions,
  options: SessionOptions,
  context: LoadContext,
): Promise<{ session: Session; engine: string }> {
  const choice = options.engine ?? "auto";
  let why = "";
  if (choice !== "onnxruntime") {
    try {
      // As many threads as ONNX Runtime would use: sums of tree shares merged in its order, same bits.
      const threads = options.engineThreads ?? ortOptions.intraOpNumThreads ?? availableParallelism();
      const forests = context.forestCache && { cache: context.forestCache, file: graph.file };
      const session = await TreeSession.create(graph.parsed ?? graph.file, ortOptions, threads, forests);
      return { session, engine: session.description };
    } catch (error) {
      // Under auto, anything that keeps the engine from starting leaves the model to ONNX Runtime.
      const reason = error instanceof Unsupported ? error.message : `it failed to start: ${messageOf(error)}`;
      if (choice === "trees") {
        throw new MlbatchError(
          "E_MODEL_LOAD",
          `model ${uri}: loader engine "trees" cannot run this model: ${reason}. ` +
            'Set the loader\'s engine to "auto" or "onnxruntime" to run it in ONNX Runtime.',
          { cause: error },
        );
      }
      why = ` (tree engine not used: ${reason})`;
    }
  }
  try {
    return { session: await OnnxWorker.create(graph.source, ortOptions), engine: `onnxruntime${why}` };
  } catch (error) {
    const what = typeof graph.source === "string" ? graph.file : `${graph.file} (its ZipMaps taken off)`;
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: ONNX Runtime cannot load ${what}: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
}

function tensor(type: ColumnType, data: ColumnData, dims: number[]): WireTensor {
  return { type, data, dims };
}

/** Column `index` of a row-major [n, width] output. */
function stride(data: ColumnData, type: ColumnType, source: OutputSource, n: number): ColumnData {
  const out = allocate(type, n) as Float32Array;
  const values = data as Float32Array;
  for (let r = 0; r < n; r++) out[r] = values[r * source.width + source.index]!;
  return out;
}
