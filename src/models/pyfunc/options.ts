import * as z from "zod";

const Mode = z.enum(["never", "auto", "always"]);
const EnvManager = z.enum(["local", "uv", "virtualenv"]);
const Timeout = z.number().positive();
const ResultType = z.enum(["double", "float", "long", "integer", "boolean", "string"]);

/**
 * The loaders' options of the pyfunc tier (spread into a loader's strict object): whether MLflow's pyfunc
 * runs the model in Python, and then the Python environment, the workers and their per-batch timeout.
 * Each is optional, so a config without them parses as before (no key); their defaults are
 * {@link PYFUNC_DEFAULTS}, taken where the model is loaded.
 */
export const PyfuncOptionsConfig = {
  pyfunc: Mode.optional().describe(
    "Whether MLflow's pyfunc runs the model in Python worker processes: `auto` (the default: natively when " +
      "mlbatch can, without Python (ONNX, or scikit-learn from skops, XGBoost, LightGBM), else pyfunc, the log " +
      "saying which and why), `never` (natively only: any other model is refused, and no pickle is ever " +
      "loaded), or `always`.",
  ),
  env_manager: EnvManager.optional().describe(
    "Where the pyfunc workers' Python comes from, as MLflow's env_manager: `local` (the default: loader.python, " +
      "else $MLBATCH_PYTHON, else python3 on PATH; it must have mlflow and pyarrow), `uv` or `virtualenv` (an " +
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
  timeout: Timeout.optional().describe(
    "Seconds a pyfunc worker may take over one batch before it is killed and the job fails (to load the " +
      "model: this, or 300 s if longer). Default 600.",
  ),
  env_dir: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The folder of the environments env_manager uv / virtualenv builds. Default: $XDG_CACHE_HOME/mlbatch/pyfunc-envs, else ~/.cache/mlbatch/pyfunc-envs.",
    ),
  result_type: ResultType.optional().describe(
    "The type of the one `prediction` column of a pyfunc model, as spark_udf's result_type. Default: the " +
      "output signature's columns and types, else double.",
  ),
};

/** The defaults of the pyfunc options a config leaves out. */
const PyfuncDefaults = z.object({
  pyfunc: Mode.default("auto"),
  env_manager: EnvManager.default("local"),
  timeout: Timeout.default(600),
});

/** The defaults of {@link PyfuncOptionsConfig}, once. */
export const PYFUNC_DEFAULTS = PyfuncDefaults.parse({}, { jitless: true });

/** The pyfunc options in the TypeScript API (camelCase), as {@link PyfuncOptionsConfig} parses them. */
export interface PyfuncOptions {
  readonly pyfunc?: z.output<typeof Mode> | undefined;
  readonly envManager?: z.output<typeof EnvManager> | undefined;
  readonly python?: string | undefined;
  readonly workers?: number | undefined;
  /** Seconds. */
  readonly timeout?: number | undefined;
  readonly envDir?: string | undefined;
  readonly resultType?: z.output<typeof ResultType> | undefined;
}

/**
 * Whether a loader of these options runs every model in a local Python (`pyfunc: always`, `env_manager:
 * local`): then its zygote may start before the model is known. Never otherwise: a model mlbatch runs
 * natively must not start Python, and a built environment depends on the model's requirements.
 */
export function startsEarly(options: PyfuncOptions): boolean {
  return (
    (options.pyfunc ?? PYFUNC_DEFAULTS.pyfunc) === "always" &&
    (options.envManager ?? PYFUNC_DEFAULTS.env_manager) === "local"
  );
}
