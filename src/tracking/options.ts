import type { Logger } from "../log.js";
import type { RetryPolicy } from "../mlflow/retry-policy.js";

/** What logging to MLflow tracking may use besides the URI and what is logged. */
export interface TrackingOptions {
  /** Where the logging (and a tracking server's retries) is logged; silent by default. */
  readonly logger?: Logger | undefined;
  /** Credentials and TLS of a tracking server (`MLFLOW_TRACKING_*`; default: this process's environment). */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Timeout and retries of a tracking server's requests (default: the `MLFLOW_HTTP_REQUEST_*` variables', else MLflow's). */
  readonly http?: RetryPolicy | undefined;
  /** What relative store paths, and MLflow's default artifact root `./mlruns`, are relative to (default: the working directory). */
  readonly cwd?: string | undefined;
}
