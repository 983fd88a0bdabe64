import type { Writable } from "node:stream";
import * as z from "zod";
import type { Logger } from "../../log.js";
import type { JobEvent } from "../job-event.js";

/** When a channel sends: on the job's success, its failure, or both. */
export type AlertOn = "success" | "failure";

/** `on`: the job outcomes a channel sends for (config field shared by every channel KIND). */
export const ON_FIELD = {
  on: z
    .array(z.enum(["success", "failure"]))
    .default(["success", "failure"])
    .describe("Job outcomes this channel sends for: success, failure, or both (default)."),
};

/** Delivery fields shared by the channels that send over the network or to the OS. */
export const DELIVERY_FIELDS = {
  timeout_seconds: z
    .number()
    .positive()
    .max(300)
    .default(10)
    .describe("Seconds one delivery attempt may take before it is abandoned."),
  max_attempts: z
    .int()
    .min(1)
    .max(10)
    .default(3)
    .describe("Attempts before the channel gives up (1: no retry)."),
  backoff_seconds: z
    .number()
    .min(0)
    .max(60)
    .default(1)
    .describe("Base delay before a retry, doubled at each retry, with jitter."),
};

/** How a channel's deliveries are bounded: per-attempt timeout, attempts, base backoff. */
export interface DeliveryPolicy {
  readonly timeoutSeconds: number;
  readonly maxAttempts: number;
  readonly backoffSeconds: number;
}

/** The delivery policy of a channel's config (its {@link DELIVERY_FIELDS}). */
export function deliveryPolicy(config: {
  readonly timeout_seconds: number;
  readonly max_attempts: number;
  readonly backoff_seconds: number;
}): DeliveryPolicy {
  return {
    timeoutSeconds: config.timeout_seconds,
    maxAttempts: config.max_attempts,
    backoffSeconds: config.backoff_seconds,
  };
}

const FIELD_DEFAULTS = z.object({ ...ON_FIELD, ...DELIVERY_FIELDS }).parse({}, { jitless: true });

/**
 * What a channel built without a config uses: the defaults of {@link ON_FIELD} and
 * {@link DELIVERY_FIELDS}, read from them (both outcomes; 10 s, 3 attempts, 1 s backoff).
 */
export const CHANNEL_DEFAULTS: { readonly on: readonly AlertOn[]; readonly policy: DeliveryPolicy } = {
  on: FIELD_DEFAULTS.on,
  policy: deliveryPolicy(FIELD_DEFAULTS),
};

/** The policy of a channel that does no I/O worth retrying (the console). */
export const ONCE: DeliveryPolicy = { timeoutSeconds: 10, maxAttempts: 1, backoffSeconds: 0 };

/**
 * One notification as the channels receive it: the job's event plus what the alerts service adds. It is
 * built once per notification, so every retry of a channel sends the same message (and signature).
 */
export interface Alert {
  readonly event: JobEvent;
  /** `alerts_service.app_name`. */
  readonly appName: string;
  readonly timestamp: Date;
  /** Unique per notification, the same for every channel and retry (receivers may deduplicate on it). */
  readonly id: string;
}

/** What channels may use besides their own config: where the console is, the job's logger. */
export interface ChannelContext {
  /** Where console lines go (stdout by default). */
  readonly output: Writable;
  /** The job's logger, once started. */
  readonly logger: () => Logger | undefined;
  /** `alerts_service.timeout`: seconds a desktop notification stays visible. */
  readonly displaySeconds?: number | null | undefined;
}

/**
 * A way to tell people about a job: the console, the desktop, Slack, a webhook, email. Implementations
 * send one alert per call and throw when it was not delivered; the alerts service retries and logs.
 */
export interface Channel {
  /** A description for logs that contains no secret, e.g. `WebhookChannel(https://example.com/…)`. */
  readonly label: string;
  /** Strings never to be logged (URLs with tokens, passwords, HMAC secrets, credential headers). */
  readonly secrets: readonly string[];
  /** The job outcomes this channel sends for. */
  readonly on: readonly AlertOn[];
  /** How deliveries are bounded and retried. */
  readonly policy: DeliveryPolicy;
  /**
   * Sends one alert.
   *
   * @param alert - the event and its app name, timestamp and id
   * @param signal - aborted when the attempt times out
   * @throws Error when not delivered; an error with `retryable: false` is not retried
   */
  send(alert: Alert, signal: AbortSignal): Promise<void>;
}

/** `text` cut to at most `max` characters, an ellipsis marking the cut (message size limits). */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
