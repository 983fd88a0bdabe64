/**
 * MLflow's client settings as MLflow itself reads them: where the tracking and registry stores are
 * (`MLFLOW_TRACKING_URI`, `MLFLOW_REGISTRY_URI`) and how requests are timed out and retried
 * (`MLFLOW_HTTP_REQUEST_*`); the config's values win over the variables, which win over MLflow's defaults.
 */
import { existsSync } from "node:fs";
import * as z from "zod";
import { MlbatchError } from "../errors.js";
import { MLFLOW_RETRY_POLICY, type RetryPolicy } from "./retry-policy.js";

const DEFAULTS = MLFLOW_RETRY_POLICY;

/** Config of the timeout and retries of requests to a tracking server (`mlflow_service.http`). */
export const HttpConfig = z.strictObject({
  timeout: z
    .number()
    .positive()
    .optional()
    .describe(
      "Seconds to wait for a tracking server's connection, or for the next bytes of its answer, per request. " +
        `Default: MLFLOW_HTTP_REQUEST_TIMEOUT, else ${DEFAULTS.timeout} (MLflow's default).`,
    ),
  max_retries: z
    .int()
    .min(0)
    .max(10)
    .optional()
    .describe(
      "Retries of a request after a connection error, a timeout, or a 408, 429, 502, 503 or 504 answer. " +
        `Default: MLFLOW_HTTP_REQUEST_MAX_RETRIES, else ${DEFAULTS.maxRetries} (MLflow's default).`,
    ),
  backoff_factor: z
    .number()
    .min(0)
    .max(120)
    .optional()
    .describe(
      "The n-th retry waits backoff_factor * 2^(n-1) seconds (the first retry none), at most 120 s, or as " +
        "long as the server's Retry-After says. Default: MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, else " +
        `${DEFAULTS.backoffFactor} (MLflow's default).`,
    ),
  backoff_jitter: z
    .number()
    .min(0)
    .optional()
    .describe(
      "Up to this many random seconds added to each backoff. Default: MLFLOW_HTTP_REQUEST_BACKOFF_JITTER, " +
        `else ${DEFAULTS.backoffJitter} (MLflow's default).`,
    ),
});
export type HttpConfig = z.output<typeof HttpConfig>;

/** Each field of a {@link RetryPolicy}: its config key and its variable. */
const FIELDS: readonly { key: keyof RetryPolicy; config: keyof HttpConfig; variable: string }[] = [
  { key: "timeout", config: "timeout", variable: "MLFLOW_HTTP_REQUEST_TIMEOUT" },
  { key: "maxRetries", config: "max_retries", variable: "MLFLOW_HTTP_REQUEST_MAX_RETRIES" },
  { key: "backoffFactor", config: "backoff_factor", variable: "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR" },
  { key: "backoffJitter", config: "backoff_jitter", variable: "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER" },
];

/**
 * Timeout and retries as MLflow's client would use them: the config's, else the `MLFLOW_HTTP_REQUEST_*`
 * variables', else MLflow's defaults ({@link MLFLOW_RETRY_POLICY}: 120 s, 7 retries, backoff factor 2,
 * jitter 1 s).
 *
 * @param config - `mlflow_service.http`
 * @param env - the environment to read (default: this process's)
 * @throws MlbatchError `E_CONFIG` when a variable is not a valid number
 */
export function resolveHttpSettings(
  config: HttpConfig = {},
  env: NodeJS.ProcessEnv = process.env,
): RetryPolicy {
  const resolved = { ...DEFAULTS };
  for (const { key, config: name, variable } of FIELDS)
    resolved[key] = config[name] ?? fromEnv(variable, key, env) ?? DEFAULTS[key];
  return resolved;
}

function fromEnv(variable: string, key: keyof RetryPolicy, env: NodeJS.ProcessEnv): number | undefined {
  const text = env[variable]?.trim();
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  const valid =
    key === "maxRetries"
      ? Number.isInteger(value) && value >= 0 && value <= 10
      : Number.isFinite(value) && (key === "timeout" ? value > 0 : value >= 0);
  if (valid) return value;
  throw new MlbatchError(
    "E_CONFIG",
    `${variable}="${text}" is not a valid ${key === "maxRetries" ? "whole number from 0 to 10" : "number of seconds"}. ` +
      "Fix or unset it, or set mlflow_service.http in the config.",
  );
}

/** The configured stores, if any (`mlflow_service.tracking_uri` and `registry_uri`). */
export interface MlflowUris {
  readonly tracking_uri?: string | undefined;
  readonly registry_uri?: string | undefined;
}

/**
 * The MLflow URIs MLflow itself would use: the configured ones, else the environment's, else the local
 * defaults (`sqlite:///mlflow.db` when it exists in the working directory, else `./mlruns`).
 *
 * @param config - the configured URIs
 * @param env - the environment to read (default: this process's)
 * @example
 * ```ts
 * const { trackingUri, registryUri } = resolveMlflowUris({ tracking_uri: "http://127.0.0.1:5000" });
 * ```
 */
export function resolveMlflowUris(
  config: MlflowUris,
  env: NodeJS.ProcessEnv = process.env,
): { trackingUri: string; registryUri: string } {
  const trackingUri =
    config.tracking_uri ??
    (env.MLFLOW_TRACKING_URI || (existsSync("mlflow.db") ? "sqlite:///mlflow.db" : "./mlruns"));
  const registryUri = config.registry_uri ?? (env.MLFLOW_REGISTRY_URI || trackingUri);
  return { trackingUri, registryUri };
}
