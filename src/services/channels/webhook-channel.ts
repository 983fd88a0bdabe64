import { createHmac } from "node:crypto";
import * as z from "zod";
import { headline } from "../job-event.js";
import {
  type Alert,
  type AlertOn,
  CHANNEL_DEFAULTS,
  type Channel,
  DELIVERY_FIELDS,
  type DeliveryPolicy,
  ON_FIELD,
} from "./channel.js";
import { postBody } from "./http.js";
import { SENSITIVE_HEADER, urlLabel, urlSecrets } from "./redact.js";

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Config of {@link WebhookChannel}. */
export const WebhookChannelConfig = z
  .strictObject({
    KIND: z.literal("WebhookChannel"),
    url: z
      .url({ protocol: /^https?$/ })
      .describe(
        "http(s) URL the JSON is POSTed to; a secret: take it from the environment (oc.env interpolation).",
      ),
    headers: z
      .record(z.string().regex(HEADER_NAME, "invalid HTTP header name"), z.string())
      .optional()
      .describe(
        "Extra request headers, e.g. Authorization (values of headers named like auth, token, key, " +
          "secret are never logged).",
      ),
    hmac_secret: z
      .string()
      .min(1)
      .optional()
      .describe("When set, the body is signed: <signature_header>: sha256=<hex HMAC-SHA256(secret, body)>."),
    signature_header: z
      .string()
      .regex(HEADER_NAME, "invalid HTTP header name")
      .default("X-Mlbatch-Signature")
      .describe("Header carrying the HMAC signature."),
    ...ON_FIELD,
    ...DELIVERY_FIELDS,
  })
  .describe("POSTs the alert as JSON to a URL (an incident tool, a chat bridge, your own service).");
export type WebhookChannelConfig = z.infer<typeof WebhookChannelConfig>;

/** The signature header of a channel built without a config: the schema's default. */
const SIGNATURE_HEADER = WebhookChannelConfig.shape.signature_header.parse(undefined);

/** The JSON a {@link WebhookChannel} POSTs. Absent facts are `null`, so every key is always there. */
export interface WebhookPayload {
  /** Unique per notification; the same on retries (deduplicate on it). */
  readonly id: string;
  readonly event: "finished" | "failed";
  readonly status: "success" | "failure";
  readonly job: string;
  readonly app_name: string;
  /** ISO 8601, UTC. */
  readonly timestamp: string;
  /** The console line's title and message. */
  readonly title: string;
  readonly message: string;
  readonly shape: readonly [number, number] | null;
  readonly model: { name: string; version: number | null; alias: string | null; uri: string } | null;
  readonly rows: { read: number | null; written: number | null; rejected: number | null } | null;
  readonly outputs: string | null;
  /** Seconds per step and `total`, to the millisecond. */
  readonly durations: Record<string, number> | null;
  readonly error: { step: string | null; code: string; message: string } | null;
}

/**
 * The webhook body of an alert.
 *
 * @example
 * ```ts
 * JSON.stringify(webhookPayload(alert)); // {"id":"...","event":"finished","status":"success",...}
 * ```
 */
export function webhookPayload(alert: Alert): WebhookPayload {
  const { event } = alert;
  const { title, message } = headline(event);
  return {
    id: alert.id,
    event: event.event,
    status: event.status,
    job: event.job,
    app_name: alert.appName,
    timestamp: alert.timestamp.toISOString(),
    title,
    message,
    shape: event.shape === undefined ? null : [event.shape[0], event.shape[1]],
    model:
      event.model === undefined
        ? null
        : {
            name: event.model.name,
            version: event.model.version ?? null,
            alias: event.model.alias ?? null,
            uri: event.model.uri,
          },
    rows:
      event.rows === undefined
        ? null
        : {
            read: event.rows.read ?? null,
            written: event.rows.written ?? null,
            rejected: event.rows.rejected ?? null,
          },
    outputs: event.outputs ?? null,
    durations:
      event.durations === undefined
        ? null
        : Object.fromEntries(
            Object.entries(event.durations).map(([step, seconds]) => [
              step,
              Math.round(seconds * 1000) / 1000,
            ]),
          ),
    error:
      event.error === undefined
        ? null
        : { step: event.error.step ?? null, code: event.error.code, message: event.error.message },
  };
}

/**
 * The signature header's value for a body: `sha256=` and the hex HMAC-SHA256 of the raw body bytes with
 * the secret as key.
 */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/**
 * POSTs each alert as JSON ({@link WebhookPayload}) with `Content-Type: application/json`,
 * `X-Mlbatch-Event` (finished or failed), `X-Mlbatch-Delivery` (the alert's id), the configured headers
 * and, with an HMAC secret, a signature header. Any 2xx answer is a delivery; 408, 429, 5xx and network
 * errors are retried; other answers are not.
 *
 * @example
 * ```ts
 * const channel = new WebhookChannel({ url: "https://hooks.example.com/mlbatch", hmacSecret: "s3cret" });
 * await channel.send(alert, AbortSignal.timeout(10_000));
 * ```
 */
export class WebhookChannel implements Channel {
  readonly label: string;
  readonly secrets: readonly string[];
  readonly on: readonly AlertOn[];
  readonly policy: DeliveryPolicy;
  private readonly url: string;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly hmacSecret: string | undefined;
  private readonly signatureHeader: string;

  /** @param options - the URL, extra headers, HMAC secret and signature header, `on` and delivery policy */
  constructor(options: {
    url: string;
    headers?: Readonly<Record<string, string>> | undefined;
    hmacSecret?: string | undefined;
    signatureHeader?: string | undefined;
    on?: readonly AlertOn[] | undefined;
    policy?: DeliveryPolicy | undefined;
  }) {
    this.url = options.url;
    this.headers = options.headers ?? {};
    this.hmacSecret = options.hmacSecret;
    this.signatureHeader = options.signatureHeader ?? SIGNATURE_HEADER;
    this.on = options.on ?? CHANNEL_DEFAULTS.on;
    this.policy = options.policy ?? CHANNEL_DEFAULTS.policy;
    this.label = `WebhookChannel(${urlLabel(this.url)})`;
    this.secrets = [
      ...urlSecrets(this.url),
      ...(this.hmacSecret === undefined ? [] : [this.hmacSecret]),
      ...Object.entries(this.headers)
        .filter(([name]) => SENSITIVE_HEADER.test(name))
        .map(([, value]) => value),
    ];
  }

  /** @inheritdoc */
  async send(alert: Alert, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(webhookPayload(alert));
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "User-Agent": "mlbatch",
      "X-Mlbatch-Event": alert.event.event,
      "X-Mlbatch-Delivery": alert.id,
      ...this.headers,
    };
    if (this.hmacSecret !== undefined)
      headers[this.signatureHeader] = webhookSignature(this.hmacSecret, body);
    await postBody(this.url, body, headers, signal);
  }
}
