import { availableParallelism } from "node:os";
import { join } from "node:path";
import type ort from "onnxruntime-node";
import { allocate, type Batch, type Column, type ColumnData, type ColumnType } from "../data/batch.js";
import { MlbatchError, messageOf } from "../errors.js";
import type { MLmodel } from "./mlmodel.js";
import type { FeatureSpec, Model, OutputSpec } from "./model.js";
import { OnnxWorker, type Session, type WireTensor } from "./onnx-worker.js";
import { type SessionOptions, sessionOptions } from "./session-options.js";
import { Unsupported } from "./trees/forest.js";
import { TreeSession } from "./trees/tree-session.js";

/** How the loader names the model's output columns. */
export type OutputNaming =
  /** The names of the signature's outputs, in order (else the ONNX output names). */
  | "signature"
  /** One column, `prediction`, holding the first ONNX output. */
  | "prediction";

const TENSOR_TYPES: Partial<Record<string, ColumnType>> = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  int32: "int32",
  int16: "int16",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
  string: "string",
};

/** How the table's columns feed the graph: one input per column, or all columns as one 2-D input. */
type FeedPlan =
  | { readonly kind: "columns"; readonly inputs: readonly { name: string; rank: number }[] }
  | { readonly kind: "matrix"; readonly input: string };

/** Where each output column comes from: an ONNX output, and a position in its second dimension. */
interface OutputSource {
  readonly output: string;
  readonly width: number;
  readonly index: number;
}

/**
 * An MLflow `onnx`-flavored model run by ONNX Runtime. The table feeds the graph as MLflow does it:
 * several graph inputs take one column each, matched by name; a single graph input takes all signature
 * columns, in order, as one 2-D tensor. Columns are cast (in SQL, by the reader) to the tensor types the
 * graph declares, e.g. float64 to float32.
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
   * @throws MlbatchError `E_MODEL_LOAD` when the model has no `onnx` flavor or the graph cannot be fed
   */
  static async create(
    uri: string,
    mlmodel: MLmodel,
    naming: OutputNaming,
    options: SessionOptions = {},
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
    const ortOptions = sessionOptions(options, mlmodel.onnx.sessionOptions);
    const { session, engine } = await openSession(uri, file, ortOptions, options);
    try {
      const { plan, inputs } = planFeeds(uri, session, mlmodel);
      const { outputs, sources } = planOutputs(uri, session, mlmodel, naming);
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

/**
 * The session that runs a model file: the tree engine when asked (`trees`) or allowed (`auto`) and the
 * model has a tree ensemble it runs exactly, else ONNX Runtime.
 */
async function openSession(
  uri: string,
  file: string,
  ortOptions: ort.InferenceSession.SessionOptions,
  options: SessionOptions,
): Promise<{ session: Session; engine: string }> {
  const choice = options.engine ?? "auto";
  let why = "";
  if (choice !== "onnxruntime") {
    try {
      // As many threads as ONNX Runtime would use: sums of tree shares merged in its order, same bits.
      const threads = options.engine_threads ?? ortOptions.intraOpNumThreads ?? availableParallelism();
      const session = await TreeSession.create(file, ortOptions, threads);
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
    return { session: await OnnxWorker.create(file, ortOptions), engine: `onnxruntime${why}` };
  } catch (error) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: ONNX Runtime cannot load ${file}: ${messageOf(error)}`,
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

function tensorMeta(uri: string, meta: ort.InferenceSession.ValueMetadata, role: string) {
  const type = meta.isTensor ? TENSOR_TYPES[meta.type] : undefined;
  if (!meta.isTensor || type === undefined) {
    const what = meta.isTensor
      ? `a tensor of ${meta.type}`
      : "not a tensor (a sequence or map, e.g. a ZipMap)";
    const hint = meta.isTensor
      ? ""
      : " For scikit-learn classifiers, export with skl2onnx options {'zipmap': False}.";
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: ${role} "${meta.name}" is ${what}, which mlbatch cannot handle.${hint}`,
    );
  }
  return { name: meta.name, type, shape: meta.shape };
}

function planFeeds(
  uri: string,
  session: Session,
  mlmodel: MLmodel,
): { plan: FeedPlan; inputs: FeatureSpec[] } {
  const graphInputs = session.inputMetadata.map((meta) => tensorMeta(uri, meta, "input"));
  const columns = mlmodel.signature.inputs;
  if (graphInputs.length > 1 || columns === undefined) {
    const inputs = graphInputs.map((input): FeatureSpec => {
      const spec = columns?.find((c) => c.name === input.name);
      if (columns !== undefined && spec === undefined) {
        throw new MlbatchError(
          "E_MODEL_LOAD",
          `model ${uri}: graph input "${input.name}" is not a column of the model's signature (${columns.map((c) => c.name).join(", ")}). ` +
            "Log the model with a signature whose column names are the ONNX input names.",
        );
      }
      return { name: input.name, signatureType: spec?.type, type: input.type };
    });
    return {
      plan: {
        kind: "columns",
        inputs: graphInputs.map((i) => ({ name: i.name, rank: i.shape.length === 1 ? 1 : 2 })),
      },
      inputs,
    };
  }
  const input = graphInputs[0]!;
  const width = input.shape[1];
  if (input.shape.length !== 2 || (typeof width === "number" && width !== columns.length)) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: its single graph input "${input.name}" has shape [${input.shape.join(", ")}], but the signature ` +
        `has ${columns.length} columns to feed as one [n, ${columns.length}] tensor`,
    );
  }
  if (input.type === "string" || input.type === "int64" || input.type === "bool") {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: a single ${input.type} input taking several columns is not supported`,
    );
  }
  return {
    plan: { kind: "matrix", input: input.name },
    inputs: columns.map((c) => ({ name: c.name, signatureType: c.type, type: input.type })),
  };
}

function planOutputs(
  uri: string,
  session: Session,
  mlmodel: MLmodel,
  naming: OutputNaming,
): { outputs: OutputSpec[]; sources: OutputSource[] } {
  const graphOutputs = session.outputMetadata.map((meta) => tensorMeta(uri, meta, "output"));
  const picked = naming === "prediction" ? graphOutputs.slice(0, 1) : graphOutputs;
  const outputs: OutputSpec[] = [];
  const sources: OutputSource[] = [];
  for (const output of picked) {
    const width = output.shape.length <= 1 ? 1 : output.shape[1];
    if (typeof width !== "number" || output.shape.length > 2) {
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${uri}: output "${output.name}" has shape [${output.shape.join(", ")}]; mlbatch writes outputs of shape [n] or [n, k] with a fixed k`,
      );
    }
    for (let index = 0; index < width; index++) {
      outputs.push({ name: width === 1 ? output.name : `${output.name}_${index}`, type: output.type });
      sources.push({ output: output.name, width, index });
    }
  }
  const names = naming === "prediction" ? ["prediction"] : mlmodel.signature.outputs?.map((c) => c.name);
  if (names !== undefined && names.length === outputs.length) {
    return { outputs: outputs.map((o, i) => ({ ...o, name: names[i]! })), sources };
  }
  return { outputs, sources };
}
