import type ort from "onnxruntime-node";
import * as z from "zod";
import type { Camelized } from "./camel-case.js";

/**
 * ONNX Runtime session options a loader accepts, with MLflow's `onnx_session_options` names (the
 * config's keys); the loaders map them to the TypeScript API's {@link SessionOptions} with `camelized`.
 */
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

const SessionOptionsSchema = z.object(SessionOptionsConfig);

/** The session options as a loader's config writes them (snake_case keys). */
export type SessionOptionsFields = z.output<typeof SessionOptionsSchema>;

/** The session options of a loader: the config's {@link SessionOptionsConfig}, camelCase. */
export type SessionOptions = Camelized<SessionOptionsFields>;

const LEVELS = { 0: "disabled", 1: "basic", 2: "extended", 99: "all" } as const;
type Level = SessionOptions["graphOptimizationLevel"];

/** The ONNX Runtime options of a model's MLflow `onnx_session_options` (unknown or invalid ones ignored). */
function fromMlflow(m: Readonly<Record<string, unknown>>): SessionOptions {
  const level = m.graph_optimization_level;
  return {
    intraOpNumThreads: typeof m.intra_op_num_threads === "number" ? m.intra_op_num_threads : undefined,
    interOpNumThreads: typeof m.inter_op_num_threads === "number" ? m.inter_op_num_threads : undefined,
    executionMode:
      m.execution_mode === "parallel" || m.execution_mode === "sequential" ? m.execution_mode : undefined,
    graphOptimizationLevel:
      level === 0 || level === 1 || level === 2 || level === 99
        ? LEVELS[level]
        : typeof level === "string" && Object.values(LEVELS).includes(level as never)
          ? (level as Level)
          : undefined,
  };
}

/**
 * The ONNX Runtime options of a session: the loader's first, then the model's MLflow
 * `onnx_session_options` (MLflow writes the optimization level as ONNX Runtime's number: 0, 1, 2, 99).
 */
export function sessionOptions(
  config: SessionOptions,
  mlflow: Readonly<Record<string, unknown>> | undefined,
): ort.InferenceSession.SessionOptions {
  const fromModel = fromMlflow(mlflow ?? {});
  const pick = <K extends keyof SessionOptions>(key: K) => config[key] ?? fromModel[key];
  const options: ort.InferenceSession.SessionOptions = {};
  const intra = pick("intraOpNumThreads");
  const inter = pick("interOpNumThreads");
  const mode = pick("executionMode");
  const optimization = pick("graphOptimizationLevel");
  if (intra !== undefined && intra > 0) options.intraOpNumThreads = intra;
  if (inter !== undefined && inter > 0) options.interOpNumThreads = inter;
  if (mode !== undefined) options.executionMode = mode;
  if (optimization !== undefined) options.graphOptimizationLevel = optimization;
  return options;
}
