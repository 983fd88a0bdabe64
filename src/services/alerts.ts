import { randomUUID } from "node:crypto";
import type { Writable } from "node:stream";
import * as z from "zod";
import type { Logger } from "../log.js";
import type { Alert, AlertOn, Channel } from "./channels/channel.js";
import { describeError } from "./channels/delivery.js";
import type { DesktopEnvironment } from "./channels/desktop-channel.js";
import { ChannelKind, createChannel, type DeliveryHooks, deliver } from "./channels/index.js";
import { redact } from "./channels/redact.js";
import type { JobEvent } from "./job-event.js";
import { type Service, serviceConfig } from "./service.js";

/** Config of {@link AlertsService} (the reference's field names, plus `channels`). */
export const AlertsServiceConfig = z
  .strictObject({
    KIND: z.literal("AlertsService").optional(),
    enable: z.boolean().default(true).describe("Send notifications (false: send none)."),
    app_name: z.string().min(1).default("mlbatch").describe("Shown in brackets before each notification."),
    timeout: z
      .int()
      .positive()
      .nullable()
      .optional()
      .describe("Seconds a desktop notification stays visible (DesktopChannel; the reference's field)."),
    channels: z
      .array(ChannelKind)
      .prefault([{ KIND: "ConsoleChannel" }])
      .describe(
        "Where notifications go, all of them for each notification, concurrently. Default: [ConsoleChannel].",
      ),
  })
  .describe("Notifications when a job finishes or fails.");
export type AlertsServiceConfig = z.output<typeof AlertsServiceConfig>;
/** {@link AlertsServiceConfig} as a YAML mapping holds it: every field with a default may be left out. */
export type AlertsServiceInput = z.input<typeof AlertsServiceConfig>;

/** What an {@link AlertsService} may use besides its config: the job's logger, and test stand-ins. */
export interface AlertsServiceOptions {
  /** The job's logger, once started: delivery warnings go there (default: none). */
  readonly logger?: (() => Logger | undefined) | undefined;
  /** The desktop the DesktopChannel notifies on (default: this process's OS and environment). */
  readonly desktop?: DesktopEnvironment | undefined;
  /** How retries wait and where their jitter comes from (default: timers and Math.random). */
  readonly delivery?: DeliveryHooks | undefined;
}

/**
 * Notifies people when a job finishes or fails, on every configured channel (console, desktop, Slack,
 * webhook, email) at once. Each channel's delivery is bounded by its timeout and retried with backoff; a
 * channel that still fails is logged as a warning, with its secrets redacted, and never changes the job's
 * result: {@link AlertsService.notify} never throws. The default channel, the console, writes one line to
 * stdout: `[<app_name>] <title>: <message>`.
 *
 * @example
 * ```ts
 * const alerts = new AlertsService({
 *   app_name: "Bikes",
 *   channels: [{ KIND: "ConsoleChannel", on: ["success", "failure"] }],
 * });
 * await alerts.start();
 * await alerts.notify({ event: "finished", job: "Inference Job", status: "success", shape: [3476, 2] });
 * ```
 */
export class AlertsService implements Service {
  /** The channels notifications go to, in config order. */
  readonly channels: readonly Channel[];
  private readonly logger: () => Logger | undefined;
  private readonly hooks: DeliveryHooks;
  private readonly config: AlertsServiceConfig;

  /**
   * @param config - enable, app_name, timeout, channels (the schema's defaults for those left out)
   * @param output - where the console channel (and the desktop channel's fallback) writes (default: stdout)
   * @param options - the job's logger; test stand-ins for the desktop and for retry waits
   * @throws MlbatchError `E_CONFIG` when the config is not valid
   */
  constructor(
    config: AlertsServiceInput = {},
    output: Writable = process.stdout,
    options: AlertsServiceOptions = {},
  ) {
    this.config = serviceConfig(AlertsServiceConfig, config, "alerts_service");
    this.logger = options.logger ?? (() => undefined);
    this.hooks = options.delivery ?? {};
    this.channels = this.config.channels.map((channel) =>
      createChannel(channel, {
        output,
        logger: this.logger,
        displaySeconds: this.config.timeout,
        desktop: options.desktop,
      }),
    );
  }

  /** @inheritdoc */
  async start(): Promise<void> {}

  /** @inheritdoc */
  async stop(): Promise<void> {}

  /**
   * Sends a notification on every channel configured for the event's outcome, concurrently (none when
   * `enable` is false). Never throws; takes at most the slowest channel's timeouts and backoffs.
   */
  async notify(event: JobEvent): Promise<void> {
    if (!this.config.enable) return;
    const logger = this.logger();
    try {
      const alert: Alert = {
        event,
        appName: this.config.app_name,
        timestamp: new Date(),
        id: randomUUID(),
      };
      const outcome: AlertOn = event.status;
      await Promise.all(
        this.channels
          .filter((channel) => channel.on.includes(outcome))
          .map((channel) => deliver(channel, alert, logger, this.hooks)),
      );
    } catch (error) {
      // deliver() does not throw; this guards the promise that notify() never does.
      const secrets = this.channels.flatMap((channel) => channel.secrets);
      logger?.warn(`[Alerts] notification failed: ${redact(describeError(error), secrets)}`);
    }
  }
}
