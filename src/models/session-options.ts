import type ort from "onnxruntime-node";
import * as z from "zod";

/** ONNX Runtime session options a loader accepts (MLflow's `onnx_session_options` names). */
export const SessionOptionsConfig = {
  intra_op_num_threads: z
    .int()
    .nonnegative()
    .optional()
    .describe("Threads ONNX Runtime uses inside one operator (0 or unset: one per core)."),
  inter_op_num_threads: z
    .int()
    .nonnegative()
    .optional()
    .describe("Threads across operators, with execution_mode parallel (0 or unset: ONNX Runtime's default)."),
  execution_mode: z
    .enum(["sequential", "parallel"])
    .optional()
    .describe("Operator scheduling (default sequential)."),
  graph_optimization_level: z
    .enum(["disabled", "basic", "extended", "all"])
    .optional()
    .describe("Graph optimizations applied when loading (default all)."),
  engine: z
    .enum(["auto", "onnxruntime", "trees"])
    .optional()
    .describe(
      "What runs the model: `trees` runs its tree ensemble (TreeEnsembleRegressor/Classifier) in mlbatch's engine and the rest in ONNX Runtime, and fails if the model has none it can run exactly; `onnxruntime` runs everything in ONNX Runtime; `auto` (default) is `trees` when the model allows it, else `onnxruntime`.",
    ),
  engine_threads: z
    .int()
    .positive()
    .optional()
    .describe(
      "Worker threads of the tree engine (default: intra_op_num_threads when set, else one per core; with as many threads as ONNX Runtime, the engine adds scores in its order).",
    ),
};

/** The session options of a loader's config. */
export type SessionOptions = {
  intra_op_num_threads?: number | undefined;
  inter_op_num_threads?: number | undefined;
  execution_mode?: "sequential" | "parallel" | undefined;
  graph_optimization_level?: "disabled" | "basic" | "extended" | "all" | undefined;
  engine?: "auto" | "onnxruntime" | "trees" | undefined;
  engine_threads?: number | undefined;
};

const LEVELS = { 0: "disabled", 1: "basic", 2: "extended", 99: "all" } as const;

/**
 * The ONNX Runtime options of a session: the loader's config first, then the model's MLflow
 * `onnx_session_options` (MLflow writes the optimization level as ONNX Runtime's number: 0, 1, 2, 99).
 */
export function sessionOptions(
  config: SessionOptions,
  mlflow: Readonly<Record<string, unknown>> | undefined,
): ort.InferenceSession.SessionOptions {
  const m = mlflow ?? {};
  const level = m.graph_optimization_level;
  const fromModel: SessionOptions = {
    intra_op_num_threads: typeof m.intra_op_num_threads === "number" ? m.intra_op_num_threads : undefined,
    inter_op_num_threads: typeof m.inter_op_num_threads === "number" ? m.inter_op_num_threads : undefined,
    execution_mode:
      m.execution_mode === "parallel" || m.execution_mode === "sequential" ? m.execution_mode : undefined,
    graph_optimization_level:
      level === 0 || level === 1 || level === 2 || level === 99
        ? LEVELS[level]
        : typeof level === "string" && Object.values(LEVELS).includes(level as never)
          ? (level as SessionOptions["graph_optimization_level"])
          : undefined,
  };
  const pick = <K extends keyof SessionOptions>(key: K) => config[key] ?? fromModel[key];
  const options: ort.InferenceSession.SessionOptions = {};
  const intra = pick("intra_op_num_threads");
  const inter = pick("inter_op_num_threads");
  const mode = pick("execution_mode");
  const optimization = pick("graph_optimization_level");
  if (intra !== undefined && intra > 0) options.intraOpNumThreads = intra;
  if (inter !== undefined && inter > 0) options.interOpNumThreads = inter;
  if (mode !== undefined) options.executionMode = mode;
  if (optimization !== undefined) options.graphOptimizationLevel = optimization;
  return options;
}
