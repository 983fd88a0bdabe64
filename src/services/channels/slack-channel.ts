import * as z from "zod";
import { eventFacts, headline } from "../job-event.js";
import {
  type Alert,
  type AlertOn,
  CHANNEL_DEFAULTS,
  type Channel,
  DELIVERY_FIELDS,
  type DeliveryPolicy,
  ON_FIELD,
  truncate,
} from "./channel.js";
import { postBody } from "./http.js";
import { urlLabel, urlSecrets } from "./redact.js";

/** Config of {@link SlackChannel}. */
export const SlackChannelConfig = z
  .strictObject({
    KIND: z.literal("SlackChannel"),
    webhook_url: z
      .url({ protocol: /^https?$/ })
      .describe(
        "The Slack app's incoming-webhook URL; a secret: take it from the environment (oc.env interpolation).",
      ),
    ...ON_FIELD,
    ...DELIVERY_FIELDS,
  })
  .describe("Posts a Block Kit message to a Slack channel through an incoming webhook.");
export type SlackChannelConfig = z.infer<typeof SlackChannelConfig>;

// Slack's limits: header text 150 characters, a field 2000, a section text 3000, 10 fields a section.
const HEADER_MAX = 150;
const FIELD_MAX = 2000;
const TEXT_MAX = 3000;

/**
 * The Slack message of an alert: a plain `text` (notifications and old clients show it) and Block Kit
 * `blocks`: a header, the facts as fields, the error for a failure, and a context line.
 */
export function slackMessage(alert: Alert): { text: string; blocks: unknown[] } {
  const { event } = alert;
  const { title, message } = headline(event);
  const text = `[${alert.appName}] ${title}${message ? `: ${message}` : ""}`;
  const icon = event.status === "success" ? ":white_check_mark:" : ":x:";
  const blocks: unknown[] = [
    {
      type: "header",
      text: {
        type: "plain_text",
        text: truncate(`${icon} [${alert.appName}] ${title}`, HEADER_MAX),
        emoji: true,
      },
    },
  ];
  const fields = eventFacts(event)
    .slice(0, 10)
    .map((fact) => ({ type: "mrkdwn", text: truncate(`*${fact.label}*\n${mrkdwn(fact.value)}`, FIELD_MAX) }));
  if (fields.length > 0) blocks.push({ type: "section", fields });
  if (event.error !== undefined) {
    blocks.push({
      type: "section",
      text: {
        type: "mrkdwn",
        text: `*Error*\n\`\`\`${truncate(mrkdwn(event.error.message), TEXT_MAX - 20)}\`\`\``,
      },
    });
  }
  blocks.push({
    type: "context",
    elements: [{ type: "mrkdwn", text: `mlbatch · ${event.job} · ${alert.timestamp.toISOString()}` }],
  });
  return { text, blocks };
}

/** Slack's mrkdwn control characters. */
function mrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Posts each alert to Slack through an incoming webhook (a Slack app's "Incoming Webhooks" URL) as a
 * Block Kit message with a plain-text fallback. The URL is a secret: only its host is logged.
 *
 * @example
 * ```ts
 * const channel = new SlackChannel({ webhookUrl: process.env.SLACK_WEBHOOK_URL! });
 * await channel.send(alert, AbortSignal.timeout(10_000));
 * ```
 */
export class SlackChannel implements Channel {
  readonly label: string;
  readonly secrets: readonly string[];
  readonly on: readonly AlertOn[];
  readonly policy: DeliveryPolicy;
  private readonly webhookUrl: string;

  /** @param options - the incoming-webhook URL, `on` and delivery policy */
  constructor(options: {
    webhookUrl: string;
    on?: readonly AlertOn[] | undefined;
    policy?: DeliveryPolicy | undefined;
  }) {
    this.webhookUrl = options.webhookUrl;
    this.on = options.on ?? CHANNEL_DEFAULTS.on;
    this.policy = options.policy ?? CHANNEL_DEFAULTS.policy;
    this.label = `SlackChannel(${urlLabel(this.webhookUrl)})`;
    this.secrets = urlSecrets(this.webhookUrl);
  }

  /** @inheritdoc */
  async send(alert: Alert, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(slackMessage(alert));
    await postBody(
      this.webhookUrl,
      body,
      { "Content-Type": "application/json; charset=utf-8", "User-Agent": "mlbatch" },
      signal,
    );
  }
}
