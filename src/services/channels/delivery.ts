import type { Logger } from "../../log.js";
import type { Alert, Channel } from "./channel.js";
import { redact } from "./redact.js";

/** The longest wait between two attempts, whatever the backoff and attempt number. */
export const MAX_BACKOFF_SECONDS = 30;

/** Test hooks: how to wait and where jitter comes from. */
export interface DeliveryHooks {
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/**
 * An error that retrying cannot fix (e.g. HTTP 400 or 404, a refused login): delivery stops at once.
 *
 * @param message - what failed and why, without secrets
 */
export function permanentFailure(message: string): Error {
  return Object.assign(new Error(message), { retryable: false });
}

/**
 * The wait before retry number `retry` (1 for the first retry): `base * 2^(retry-1)` seconds, at most
 * {@link MAX_BACKOFF_SECONDS}, of which a random half is dropped ("equal jitter") so that several
 * channels or jobs do not retry in step.
 *
 * @returns milliseconds, between half and all of the exponential delay
 */
export function backoffDelay(retry: number, baseSeconds: number, random: () => number = Math.random): number {
  const full = Math.min(MAX_BACKOFF_SECONDS, baseSeconds * 2 ** (retry - 1)) * 1000;
  return full / 2 + (full / 2) * random();
}

/**
 * The longest a delivery can take with this policy: every attempt timing out, every backoff at its
 * longest.
 *
 * @returns milliseconds
 */
export function deliveryBound(policy: Channel["policy"]): number {
  let total = policy.maxAttempts * policy.timeoutSeconds * 1000;
  for (let retry = 1; retry < policy.maxAttempts; retry++)
    total += backoffDelay(retry, policy.backoffSeconds, () => 1);
  return total;
}

/**
 * Delivers one alert on one channel: each attempt bounded by the channel's timeout, failed attempts
 * retried with exponential backoff and jitter unless the error says retrying cannot help. Never throws:
 * a channel that still fails is logged as a warning, with its secrets redacted.
 *
 * @returns whether the alert was delivered
 * @example
 * ```ts
 * const delivered = await deliver(channel, alert, logger);
 * ```
 */
export async function deliver(
  channel: Channel,
  alert: Alert,
  logger: Logger | undefined,
  hooks: DeliveryHooks = {},
): Promise<boolean> {
  const { timeoutSeconds, maxAttempts, backoffSeconds } = channel.policy;
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const fields = { channel: channel.label, event: alert.event.event, id: alert.id };
  let reason = "no attempt made";
  let attempt = 0;
  while (attempt < maxAttempts) {
    attempt++;
    try {
      await withTimeout((signal) => channel.send(alert, signal), timeoutSeconds);
      logger?.debug({ ...fields, attempt }, `[Alerts] Sent with ${channel.label}`);
      return true;
    } catch (error) {
      reason = redact(describeError(error), channel.secrets);
      const retryable = (error as { retryable?: unknown } | null)?.retryable !== false;
      if (!retryable || attempt >= maxAttempts) break;
      const delay = backoffDelay(attempt, backoffSeconds, hooks.random);
      logger?.debug(
        { ...fields, attempt, retry_in_ms: Math.round(delay) },
        `[Alerts] ${channel.label} attempt ${attempt} failed: ${reason}; retrying`,
      );
      await sleep(delay);
    }
  }
  logger?.warn(
    { ...fields, attempts: attempt },
    `[Alerts] ${channel.label} did not deliver the ${alert.event.event} alert after ${attempt} ` +
      `attempt(s): ${reason}. The job's result is unchanged; check the channel's config.`,
  );
  return false;
}

/** Runs `work`, aborting its signal and rejecting after `seconds`, even when `work` ignores the signal. */
async function withTimeout(work: (signal: AbortSignal) => Promise<void>, seconds: number): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = Object.assign(new Error(`timed out after ${seconds} s`), { name: "TimeoutError" });
      controller.abort(error);
      reject(error);
    }, seconds * 1000);
  });
  try {
    await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An error's message with its causes' messages and codes (fetch and sockets hide the useful part there). */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      const text = current.message || current.name;
      parts.push(typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(": ") || "unknown error";
}
