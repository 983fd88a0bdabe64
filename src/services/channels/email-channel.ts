import { readFile } from "node:fs/promises";
import type SMTPTransport from "nodemailer/lib/smtp-transport/index.js";
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
import { describeError, permanentFailure } from "./delivery.js";

/** Config of {@link EmailChannel}. */
export const EmailChannelConfig = z
  .strictObject({
    KIND: z.literal("EmailChannel"),
    host: z.string().min(1).describe("SMTP server host name."),
    port: z
      .int()
      .min(1)
      .max(65_535)
      .optional()
      .describe("SMTP server port. Default: 465 when secure, else 587."),
    secure: z
      .boolean()
      .default(false)
      .describe(
        "TLS from the first byte (SMTPS, usually port 465); false: plain SMTP, upgraded by STARTTLS.",
      ),
    starttls: z
      .enum(["required", "opportunistic", "never"])
      .default("required")
      .describe(
        "When secure is false: required (fail unless the server upgrades to TLS), opportunistic (upgrade " +
          "when offered), never (plain text: only for a trusted local relay).",
      ),
    tls: z
      .strictObject({
        reject_unauthorized: z
          .boolean()
          .default(true)
          .describe("Refuse servers whose certificate does not verify (false only for tests)."),
        servername: z.string().min(1).optional().describe("Host name the certificate must match (SNI)."),
        ca_file: z
          .string()
          .min(1)
          .optional()
          .describe("PEM file of the certificate authorities to trust (default: Node's)."),
        min_version: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2").describe("Lowest TLS version."),
      })
      .prefault({})
      .describe("TLS options."),
    username: z.string().min(1).optional().describe("SMTP login (with password)."),
    password: z
      .string()
      .min(1)
      .optional()
      .describe("SMTP password; a secret: take it from the environment (oc.env interpolation)."),
    from: z.string().min(1).describe('Sender, e.g. "mlbatch <mlbatch@example.com>".'),
    to: z.array(z.string().min(1)).min(1).describe("Recipients."),
    subject_prefix: z.string().optional().describe("Put before the subject. Default: [<app_name>]."),
    ...ON_FIELD,
    ...DELIVERY_FIELDS,
  })
  .refine((c) => (c.username === undefined) === (c.password === undefined), {
    message: "username and password go together: set both or neither",
    path: ["password"],
  })
  .describe("Sends an email through an SMTP server (nodemailer).");
export type EmailChannelConfig = z.infer<typeof EmailChannelConfig>;

/** What a channel built without a config uses for the SMTP options a config defaults: the schema's. */
const SMTP_DEFAULTS = {
  secure: EmailChannelConfig.shape.secure.parse(undefined),
  starttls: EmailChannelConfig.shape.starttls.parse(undefined),
  tls: EmailChannelConfig.shape.tls.parse(undefined),
};

/** SMTP options in the TypeScript API's names. */
export interface SmtpOptions {
  readonly host: string;
  readonly port?: number | undefined;
  readonly secure?: boolean | undefined;
  readonly starttls?: "required" | "opportunistic" | "never" | undefined;
  readonly tls?:
    | {
        readonly rejectUnauthorized?: boolean | undefined;
        readonly servername?: string | undefined;
        readonly caFile?: string | undefined;
        readonly minVersion?: "TLSv1.2" | "TLSv1.3" | undefined;
      }
    | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

/** The subject, plain-text and HTML bodies of an alert's email. */
export function emailMessage(
  alert: Alert,
  subjectPrefix?: string,
): { subject: string; text: string; html: string } {
  const { event } = alert;
  const { title, message } = headline(event);
  const prefix = subjectPrefix ?? `[${alert.appName}]`;
  const summary = event.error === undefined ? message : `[${event.error.code}]`;
  const subject = truncate(`${prefix ? `${prefix} ` : ""}${title}${summary ? `: ${summary}` : ""}`, 200);
  const facts = eventFacts(event);
  const steps = Object.entries(event.durations ?? {})
    .filter(([step]) => step !== "total")
    .map(([step, seconds]) => `${step} ${seconds.toFixed(2)} s`)
    .join(", ");
  if (steps) facts.push({ label: "Steps", value: steps });
  const footer = `Sent by mlbatch at ${alert.timestamp.toISOString()} (alert ${alert.id}).`;
  const line = `[${alert.appName}] ${title}${message ? `: ${message}` : ""}`;
  const text = [
    line,
    "",
    ...facts.map((f) => `${f.label}: ${f.value}`),
    ...(event.error === undefined ? [] : ["", "Error:", event.error.message]),
    "",
    footer,
    "",
  ].join("\n");
  const rows = facts.map((f) => `<tr><th align="left">${html(f.label)}</th><td>${html(f.value)}</td></tr>`);
  const body = [
    `<p><strong>${html(`[${alert.appName}] ${title}`)}</strong></p>`,
    `<table>${rows.join("")}</table>`,
    ...(event.error === undefined ? [] : [`<p>Error:</p><pre>${html(event.error.message)}</pre>`]),
    `<p><small>${html(footer)}</small></p>`,
  ].join("\n");
  return { subject, text, html: body };
}

function html(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * Emails each alert through an SMTP server (nodemailer): TLS by default (SMTPS, or a required STARTTLS
 * upgrade), certificates verified, login with a username and password. Refused logins, refused recipients
 * and certificate errors are not retried; connection problems are.
 *
 * @example
 * ```ts
 * const channel = new EmailChannel({
 *   smtp: { host: "smtp.example.com", username: "mlbatch", password: process.env.SMTP_PASSWORD },
 *   from: "mlbatch <mlbatch@example.com>",
 *   to: ["ml-team@example.com"],
 * });
 * await channel.send(alert, AbortSignal.timeout(10_000));
 * ```
 */
export class EmailChannel implements Channel {
  readonly label: string;
  readonly secrets: readonly string[];
  readonly on: readonly AlertOn[];
  readonly policy: DeliveryPolicy;
  private readonly smtp: SmtpOptions;
  private readonly from: string;
  private readonly to: readonly string[];
  private readonly subjectPrefix: string | undefined;

  /** @param options - the SMTP server, sender, recipients, subject prefix, `on` and delivery policy */
  constructor(options: {
    smtp: SmtpOptions;
    from: string;
    to: readonly string[];
    subjectPrefix?: string | undefined;
    on?: readonly AlertOn[] | undefined;
    policy?: DeliveryPolicy | undefined;
  }) {
    this.smtp = options.smtp;
    this.from = options.from;
    this.to = options.to;
    this.subjectPrefix = options.subjectPrefix;
    this.on = options.on ?? CHANNEL_DEFAULTS.on;
    this.policy = options.policy ?? CHANNEL_DEFAULTS.policy;
    this.label = `EmailChannel(${this.smtp.host}:${this.port})`;
    this.secrets = this.smtp.password === undefined ? [] : [this.smtp.password];
  }

  private get port(): number {
    return this.smtp.port ?? (this.smtp.secure ? 465 : 587);
  }

  /** @inheritdoc */
  async send(alert: Alert, signal: AbortSignal): Promise<void> {
    const { default: nodemailer } = await import("nodemailer");
    const transport = nodemailer.createTransport(await this.transportOptions());
    const abort = () => transport.close();
    signal.addEventListener("abort", abort, { once: true });
    try {
      const { subject, text, html } = emailMessage(alert, this.subjectPrefix);
      await transport.sendMail({
        from: this.from,
        to: [...this.to],
        subject,
        text,
        html,
        headers: { "X-Mlbatch-Event": alert.event.event, "X-Mlbatch-Delivery": alert.id },
      });
    } catch (error) {
      throw classify(error);
    } finally {
      signal.removeEventListener("abort", abort);
      transport.close();
    }
  }

  private async transportOptions(): Promise<SMTPTransport.Options> {
    const {
      secure = SMTP_DEFAULTS.secure,
      starttls = SMTP_DEFAULTS.starttls,
      tls = {},
      username,
      password,
    } = this.smtp;
    const ms = this.policy.timeoutSeconds * 1000;
    let ca: string | undefined;
    if (tls.caFile !== undefined) {
      try {
        ca = await readFile(tls.caFile, "utf8");
      } catch (error) {
        throw permanentFailure(`cannot read tls.ca_file "${tls.caFile}": ${describeError(error)}`);
      }
    }
    return {
      host: this.smtp.host,
      port: this.port,
      secure,
      requireTLS: !secure && starttls === "required",
      ignoreTLS: !secure && starttls === "never",
      ...(username === undefined ? {} : { auth: { user: username, pass: password ?? "" } }),
      tls: {
        rejectUnauthorized: tls.rejectUnauthorized ?? SMTP_DEFAULTS.tls.reject_unauthorized,
        minVersion: tls.minVersion ?? SMTP_DEFAULTS.tls.min_version,
        ...(tls.servername === undefined ? {} : { servername: tls.servername }),
        ...(ca === undefined ? {} : { ca }),
      },
      connectionTimeout: ms,
      greetingTimeout: ms,
      socketTimeout: ms,
      logger: false,
      debug: false,
    };
  }
}

/** Marks the SMTP errors that a retry cannot fix. */
function classify(error: unknown): unknown {
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
  const certificate = /certificate|self[- ]signed|unable to verify|CERT_|ERR_TLS/i.test(describeError(error));
  const permanent =
    code === "EAUTH" ||
    code === "EENVELOPE" ||
    code === "EMESSAGE" ||
    code === "ETLS" ||
    certificate ||
    (typeof responseCode === "number" && responseCode >= 500 && responseCode < 600);
  return permanent && error instanceof Error ? Object.assign(error, { retryable: false }) : error;
}
