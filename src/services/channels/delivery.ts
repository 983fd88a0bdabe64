import { backoffDelay, type Outcome, type Retries, type RetryHooks, retrying } from "../../http/retry.js";
import type { Logger } from "../../log.js";
import type { Alert, Channel, DeliveryPolicy } from "./channel.js";
import { redact } from "./redact.js";

/** The longest wait between two attempts, whatever the backoff and attempt number. */
export const MAX_BACKOFF_SECONDS = 30;

/** Test hooks: how to wait and where jitter comes from. */
export type DeliveryHooks = RetryHooks;

/**
 * An error that retrying cannot fix (e.g. HTTP 400 or 404, a refused login): delivery stops at once.
 *
 * @param message - what failed and why, without secrets
 */
export function permanentFailure(message: string): Error {
  return Object.assign(new Error(message), { retryable: false });
}

/**
 * The retries of a channel's policy: retry n waits `backoffSeconds * 2^(n-1)` seconds, at most
 * {@link MAX_BACKOFF_SECONDS}, of which a random half is dropped ("equal jitter") so that several channels
 * or jobs do not retry in step.
 */
export function deliveryRetries(policy: DeliveryPolicy): Retries {
  return {
    maxRetries: policy.maxAttempts - 1,
    backoff: {
      factor: policy.backoffSeconds,
      max: MAX_BACKOFF_SECONDS,
      spread: 0.5,
      jitter: 0,
      immediateFirst: false,
    },
  };
}

/**
 * The longest a delivery can take with this policy: every attempt timing out, every backoff at its
 * longest.
 *
 * @returns milliseconds
 */
export function deliveryBound(policy: DeliveryPolicy): number {
  const { backoff } = deliveryRetries(policy);
  let total = policy.maxAttempts * policy.timeoutSeconds * 1000;
  for (let retry = 1; retry < policy.maxAttempts; retry++)
    total += backoffDelay(backoff, retry, () => 1) * 1000;
  return total;
}

/**
 * Delivers one alert on one channel: each attempt bounded by the channel's timeout, failed attempts
 * retried with exponential backoff and jitter ({@link deliveryRetries}) unless the error says retrying
 * cannot help. Never throws: a channel that still fails is logged as a warning, with its secrets redacted.
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
  const fields = { channel: channel.label, event: alert.event.event, id: alert.id };
  let reason = "no attempt made";
  let attempts = 0;
  const attempt = async (): Promise<Outcome<void>> => {
    attempts++;
    try {
      await withTimeout((signal) => channel.send(alert, signal), channel.policy.timeoutSeconds);
      return { ok: undefined };
    } catch (error) {
      reason = redact(describeError(error), channel.secrets);
      if ((error as { retryable?: unknown } | null)?.retryable === false) throw error;
      return { transient: { reason, cause: error } };
    }
  };
  try {
    await retrying(deliveryRetries(channel.policy), attempt, {
      ...hooks,
      onRetry: (retry, delay) =>
        logger?.debug(
          { ...fields, attempt: retry, retry_in_ms: Math.round(delay * 1000) },
          `[Alerts] ${channel.label} attempt ${retry} failed: ${reason}; retrying`,
        ),
      exhausted: (last) => new Error(last.reason),
    });
    logger?.debug({ ...fields, attempt: attempts }, `[Alerts] Sent with ${channel.label}`);
    return true;
  } catch {
    logger?.warn(
      { ...fields, attempts },
      `[Alerts] ${channel.label} did not deliver the ${alert.event.event} alert after ${attempts} ` +
        `attempt(s): ${reason}. The job's result is unchanged; check the channel's config.`,
    );
    return false;
  }
}

/** Runs `work`, aborting its signal and rejecting after `seconds`, even when `work` ignores the signal. */
async function withTimeout(work: (signal: AbortSignal) => Promise<void>, seconds: number): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DOMException(`timed out after ${seconds} s`, "TimeoutError");
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
