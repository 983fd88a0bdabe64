/**
 * The one retry helper of mlbatch: every caller that talks over the network (the MLflow client, S3
 * downloads, alert channels) tries through {@link retrying}, and waits between tries as one
 * {@link Backoff} says. Callers differ only in their schedule and in what they call transient.
 */
import { setTimeout as sleepFor } from "node:timers/promises";

/**
 * How long to wait before each retry: exponential, capped, with jitter. The n-th retry (1-based) waits
 * `factor * 2^(n-1)` seconds, at most `max`; `spread` of that is random, and up to `jitter` random seconds
 * are added (the sum still at most `max`). MLflow's schedule (urllib3's) is `spread: 0`, `jitter` seconds,
 * `immediateFirst`; the alert channels' is "equal jitter", `spread: 0.5`.
 */
export interface Backoff {
  /** Seconds before the first retry, doubled at each retry. */
  readonly factor: number;
  /** The longest wait, in seconds. */
  readonly max: number;
  /** The share of the exponential wait that is random: 0, none; 0.5, between half and all of it. */
  readonly spread: number;
  /** Up to this many random seconds added to each wait. */
  readonly jitter: number;
  /** The first retry does not wait (urllib3's schedule, hence MLflow's). */
  readonly immediateFirst: boolean;
}

/** When to give up, and how long to wait in between. */
export interface Retries {
  /** Retries after the first try. */
  readonly maxRetries: number;
  readonly backoff: Backoff;
}

/** mlbatch's cap on a server's `Retry-After`, in seconds. */
const RETRY_AFTER_MAX = 120;

/** A failure worth another try: what went wrong, and how long the server asked to wait. */
export interface Transient {
  /** What went wrong, for logs and the final error: "connection refused", "HTTP 503 ...". */
  readonly reason: string;
  /** Seconds the server asked to wait (`Retry-After`), instead of the backoff. */
  readonly retryAfter?: number | undefined;
  readonly cause?: unknown;
}

/** The result of one try: a value, or a transient failure. Final failures are thrown. */
export type Outcome<T, F extends Transient = Transient> = { readonly ok: T } | { readonly transient: F };

/** Test hooks: how to wait and where jitter comes from. */
export interface RetryHooks {
  /** Waits that many milliseconds (default: a timer). */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  /** A random number in [0, 1) (default: `Math.random`). */
  readonly random?: (() => number) | undefined;
}

/** What {@link retrying} does around the tries. */
export interface RetryHandlers<F extends Transient> extends RetryHooks {
  /** Called before each wait, e.g. to log the failure: `retry` is 1-based, `delay` in seconds. */
  readonly onRetry?: ((retry: number, delay: number, failure: F) => void) | undefined;
  /** The error to throw once every try failed; `seconds` since the first try began. */
  readonly exhausted: (last: F, tries: number, seconds: number) => Error;
}

/**
 * The wait before the `retry`-th retry (1-based), in seconds (see {@link Backoff}).
 *
 * @example
 * ```ts
 * backoffDelay({ factor: 2, max: 120, spread: 0, jitter: 1, immediateFirst: true }, 2, () => 0.5); // 4.5
 * ```
 */
export function backoffDelay(backoff: Backoff, retry: number, random: () => number = Math.random): number {
  if (backoff.immediateFirst && retry <= 1) return 0;
  const exponential = Math.min(backoff.max, backoff.factor * 2 ** (retry - 1));
  const draw = random();
  const wait = exponential * (1 - backoff.spread + backoff.spread * draw) + backoff.jitter * draw;
  return Math.min(backoff.max, wait);
}

/** Seconds of a `Retry-After` header (a number of seconds or an HTTP date), capped at 120 s. */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const seconds = /^\s*\d+\s*$/.test(header) ? Number(header) : (Date.parse(header) - now) / 1000;
  return Number.isFinite(seconds) ? Math.min(RETRY_AFTER_MAX, Math.max(0, seconds)) : undefined;
}

/**
 * Runs `attempt` until it succeeds, throws (a final failure), or has failed transiently
 * `maxRetries + 1` times; waits between tries as {@link backoffDelay} says, or as long as the failure's
 * `retryAfter` asks.
 *
 * @param retries - how many retries, and the backoff
 * @param attempt - one try, given its number (1-based)
 * @param handlers - the error once every try failed; a hook before each wait; test hooks
 * @returns the first successful try's value
 * @throws what `attempt` throws, or `handlers.exhausted`'s error
 * @example
 * ```ts
 * const body = await retrying(retries, async () => ({ ok: await fetchOnce() }), {
 *   exhausted: (last, tries) => new Error(`${last.reason} (${tries} tries)`),
 * });
 * ```
 */
export async function retrying<T, F extends Transient = Transient>(
  retries: Retries,
  attempt: (tried: number) => Promise<Outcome<T, F>>,
  handlers: RetryHandlers<F>,
): Promise<T> {
  const start = performance.now();
  const sleep = handlers.sleep ?? ((ms: number) => sleepFor(ms));
  for (let retry = 0; ; retry++) {
    const outcome = await attempt(retry + 1);
    if ("ok" in outcome) return outcome.ok;
    if (retry >= retries.maxRetries) {
      throw handlers.exhausted(outcome.transient, retry + 1, (performance.now() - start) / 1000);
    }
    const delay = outcome.transient.retryAfter ?? backoffDelay(retries.backoff, retry + 1, handlers.random);
    handlers.onRetry?.(retry + 1, delay, outcome.transient);
    if (delay > 0) await sleep(delay * 1000);
  }
}
