import * as z from "zod";

/**
 * The loaders' options of the pyfunc tier (spread into a loader's strict object): whether MLflow's pyfunc
 * runs the model in Python, and then the Python environment, the workers and their per-batch timeout.
 */
export const PyfuncOptionsConfig = {
  pyfunc: z
    .enum(["never", "auto", "always"])
    .default("never")
    .describe(
      "Whether MLflow's pyfunc runs the model in Python worker processes: `never` (mlbatch runs it natively, " +
        "without Python: ONNX, or scikit-learn from skops, XGBoost, LightGBM; any other model is refused), `auto` " +
        "(natively when mlbatch can, else pyfunc, the log saying which and why), or `always`.",
    ),
  env_manager: z
    .enum(["local", "uv", "virtualenv"])
    .default("local")
    .describe(
      "Where the pyfunc workers' Python comes from, as MLflow's env_manager: `local` (loader.python, else " +
        "$MLBATCH_PYTHON, else python3 on PATH; it must import mlflow and pyarrow), `uv` or `virtualenv` (an " +
        "environment built once from the model's python_env.yaml / requirements.txt, cached by their digest).",
    ),
  python: z
    .string()
    .min(1)
    .optional()
    .describe("The Python of env_manager local. Default: $MLBATCH_PYTHON, else python3 on PATH."),
  workers: z
    .int()
    .min(1)
    .optional()
    .describe("Python worker processes, each loading the model once. Default: one per core."),
  timeout: z
    .number()
    .positive()
    .default(600)
    .describe(
      "Seconds a pyfunc worker may take over one batch before it is killed and the job fails (to load the model: this, or 300 s if longer).",
    ),
  env_dir: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The folder of the environments env_manager uv / virtualenv builds. Default: $XDG_CACHE_HOME/mlbatch/pyfunc-envs, else ~/.cache/mlbatch/pyfunc-envs.",
    ),
  result_type: z
    .enum(["double", "float", "long", "integer", "boolean", "string"])
    .optional()
    .describe(
      "The type of the `prediction` column of a pyfunc model whose signature has no outputs, as spark_udf's " +
        "result_type. Default: the output signature's types, else double.",
    ),
};

const PyfuncOptionsSchema = z.object(PyfuncOptionsConfig);

/** The pyfunc options in the TypeScript API (camelCase), as {@link PyfuncOptionsConfig} parses them. */
export interface PyfuncOptions {
  readonly pyfunc?: z.output<typeof PyfuncOptionsSchema>["pyfunc"] | undefined;
  readonly envManager?: z.output<typeof PyfuncOptionsSchema>["env_manager"] | undefined;
  readonly python?: string | undefined;
  readonly workers?: number | undefined;
  /** Seconds. */
  readonly timeout?: number | undefined;
  readonly envDir?: string | undefined;
  readonly resultType?: z.output<typeof PyfuncOptionsSchema>["result_type"] | undefined;
}

/** The defaults of {@link PyfuncOptionsConfig}, for callers of the TypeScript API that give none. */
export const PYFUNC_DEFAULTS = PyfuncOptionsSchema.parse({});
