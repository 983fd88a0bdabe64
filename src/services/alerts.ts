import type { Writable } from "node:stream";
import * as z from "zod";
import { headline, type JobEvent } from "./job-event.js";
import type { Service } from "./service.js";

/** Config of {@link AlertsService} (the reference's field names). */
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
      .describe("Seconds a notification may stay visible (accepted for the reference's configs)."),
  })
  .describe("Notifications when a job finishes or fails.");
export type AlertsServiceConfig = z.infer<typeof AlertsServiceConfig>;

/**
 * Notifies people when a job finishes or fails. The console channel writes one line per notification to
 * stdout: `[<app_name>] <title>: <message>`.
 *
 * @example
 * ```ts
 * const alerts = new AlertsService({ app_name: "Bikes" });
 * await alerts.start();
 * await alerts.notify({ event: "finished", job: "Inference Job", status: "success", shape: [3476, 2] });
 * ```
 */
export class AlertsService implements Service {
  /**
   * @param config - enable, app_name
   * @param output - where the console channel writes (default: stdout)
   */
  constructor(
    private readonly config: Partial<AlertsServiceConfig> = {},
    private readonly output: Writable = process.stdout,
  ) {}

  /** @inheritdoc */
  async start(): Promise<void> {}

  /** @inheritdoc */
  async stop(): Promise<void> {}

  /** Sends a notification on every channel (none when `enable` is false). Never throws. */
  async notify(event: JobEvent): Promise<void> {
    if (this.config.enable === false) return;
    const { title, message } = headline(event);
    this.output.write(`[${this.config.app_name ?? "mlbatch"}] ${title}: ${message}\n`);
  }
}
