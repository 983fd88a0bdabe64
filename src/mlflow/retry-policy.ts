import type { Retries, Transient } from "../http/retry.js";
import type { Logger } from "../log.js";

/** How requests to a tracking server (and its artifact stores) are timed out and retried. */
export interface RetryPolicy {
  /** Seconds to wait for a connection, or for the next bytes of an answer. */
  readonly timeout: number;
  /** Retries after the first try. */
  readonly maxRetries: number;
  /** The n-th retry waits `backoffFactor * 2^(n-1)` seconds (the first one none), at most 120 s. */
  readonly backoffFactor: number;
  /** Plus up to this many random seconds. */
  readonly backoffJitter: number;
}

/** MLflow's own defaults (`MLFLOW_HTTP_REQUEST_*`): the one place they are written. */
export const MLFLOW_RETRY_POLICY: RetryPolicy = {
  timeout: 120,
  maxRetries: 7,
  backoffFactor: 2,
  backoffJitter: 1,
};

/** urllib3's cap on a backoff. */
const BACKOFF_MAX = 120;

/** A failure of a request to MLflow worth another try, and what kind it was. */
export interface MlflowTransient extends Transient {
  /** A network error or timeout, an HTTP status worth a retry, or a body shorter than announced. */
  readonly kind: "network" | "status" | "truncated";
}

/**
 * The retries of a policy as urllib3 schedules them for MLflow's client: none before the first retry,
 * then `backoffFactor * 2^(n-1)` plus up to `backoffJitter` random seconds, at most 120 s.
 */
export function mlflowRetries(policy: RetryPolicy): Retries {
  return {
    maxRetries: policy.maxRetries,
    backoff: {
      factor: policy.backoffFactor,
      max: BACKOFF_MAX,
      spread: 0,
      jitter: policy.backoffJitter,
      immediateFirst: true,
    },
  };
}

/**
 * Logs each retry of a request as a warning: `[Registry] GET <url> failed (<reason>); retry 2/7 in 4.3 s`.
 *
 * @param logger - where (none: silent)
 * @param what - the request, its URL without secrets
 * @param policy - for the number of retries
 */
export function logRetry(
  logger: Logger | undefined,
  what: string,
  policy: RetryPolicy,
): (retry: number, delay: number, failure: Transient) => void {
  return (retry, delay, failure) =>
    logger?.warn(
      { retry, max_retries: policy.maxRetries, delay_s: Number(delay.toFixed(2)) },
      `[Registry] ${what} failed (${failure.reason}); retry ${retry}/${policy.maxRetries} in ${delay.toFixed(1)} s`,
    );
}
