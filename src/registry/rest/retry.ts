import { setTimeout as sleep } from "node:timers/promises";
import type { MlbatchError } from "../../errors.js";
import type { Logger } from "../../log.js";

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

/** MLflow's own defaults (`MLFLOW_HTTP_REQUEST_*`). */
export const MLFLOW_RETRY_POLICY: RetryPolicy = {
  timeout: 120,
  maxRetries: 7,
  backoffFactor: 2,
  backoffJitter: 1,
};

/** urllib3's cap on a backoff, and mlbatch's on a `Retry-After`. */
const BACKOFF_MAX = 120;

/** A failure worth another try: a connection error, a timeout, a 408, 429, 502, 503 or 504 answer. */
export interface Transient {
  /** A network error or timeout, an HTTP status worth a retry, or a body shorter than announced. */
  readonly kind: "network" | "status" | "truncated";
  /** What went wrong, for logs and the final error: "connection refused", "HTTP 503 ...". */
  readonly reason: string;
  /** Seconds the server asked to wait (`Retry-After`). */
  readonly retryAfter?: number | undefined;
  readonly cause?: unknown;
}

/** The result of one try: a value, or a transient failure. Final failures are thrown. */
export type Outcome<T> = { readonly ok: T } | { readonly transient: Transient };

/**
 * The wait before the `retry`-th retry (1-based), as urllib3 computes it for MLflow: none before the first,
 * then `factor * 2^(retry-1)` plus a random jitter, at most 120 s.
 */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  if (retry <= 1) return 0;
  return Math.min(BACKOFF_MAX, policy.backoffFactor * 2 ** (retry - 1) + random() * policy.backoffJitter);
}

/** Seconds of a `Retry-After` header (a number of seconds or an HTTP date), capped at 120 s. */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const seconds = /^\s*\d+\s*$/.test(header) ? Number(header) : (Date.parse(header) - now) / 1000;
  return Number.isFinite(seconds) ? Math.min(BACKOFF_MAX, Math.max(0, seconds)) : undefined;
}

/**
 * Runs `attempt` until it succeeds, throws (a final failure), or has failed transiently `maxRetries + 1`
 * times; waits between tries as {@link backoffDelay} says, or as long as the server's `Retry-After` asks.
 *
 * @param policy - retries and backoff
 * @param what - what is tried, for the log lines ("GET http://.../registered-models/alias")
 * @param logger - where each retry is logged as a warning
 * @param attempt - one try
 * @param exhausted - the error to throw when every try failed
 * @returns the first successful try's value
 */
export async function retrying<T>(
  policy: RetryPolicy,
  what: string,
  logger: Logger | undefined,
  attempt: () => Promise<Outcome<T>>,
  exhausted: (last: Transient, tries: number, seconds: number) => MlbatchError,
): Promise<T> {
  const start = performance.now();
  for (let retry = 0; ; retry++) {
    const outcome = await attempt();
    if ("ok" in outcome) return outcome.ok;
    const { reason, retryAfter } = outcome.transient;
    if (retry >= policy.maxRetries) {
      throw exhausted(outcome.transient, retry + 1, (performance.now() - start) / 1000);
    }
    const delay = retryAfter ?? backoffDelay(policy, retry + 1);
    logger?.warn(
      { retry: retry + 1, max_retries: policy.maxRetries, delay_s: Number(delay.toFixed(2)) },
      `[Registry] ${what} failed (${reason}); retry ${retry + 1}/${policy.maxRetries} in ${delay.toFixed(1)} s`,
    );
    if (delay > 0) await sleep(delay * 1000);
  }
}
