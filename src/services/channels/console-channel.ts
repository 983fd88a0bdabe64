import type { Writable } from "node:stream";
import * as z from "zod";
import { headline } from "../job-event.js";
import { type Alert, type AlertOn, CHANNEL_DEFAULTS, type Channel, ON_FIELD, ONCE } from "./channel.js";

/** Config of {@link ConsoleChannel}. */
export const ConsoleChannelConfig = z
  .strictObject({
    KIND: z.literal("ConsoleChannel"),
    ...ON_FIELD,
  })
  .describe("One line per alert on stdout: [<app_name>] <title>: <message> (the default channel).");
export type ConsoleChannelConfig = z.infer<typeof ConsoleChannelConfig>;

/** The console line of an alert: `[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)`. */
export function consoleLine(alert: Alert): string {
  const { title, message } = headline(alert.event);
  return `[${alert.appName}] ${title}: ${message}`;
}

/**
 * Writes one line per alert to the console (stdout), as the reference package's notifications read:
 * `[<app_name>] <title>: <message>`.
 *
 * @example
 * ```ts
 * const channel = new ConsoleChannel({ output: process.stdout });
 * await channel.send(alert, AbortSignal.timeout(1000)); // [Bikes] Inference Job Finished: Outputs Shape: (3476, 2)
 * ```
 */
export class ConsoleChannel implements Channel {
  readonly label = "ConsoleChannel";
  readonly secrets: readonly string[] = [];
  readonly on: readonly AlertOn[];
  readonly policy = ONCE;
  private readonly output: Writable;

  /** @param options - `output`: where lines go; `on`: the outcomes sent for (default both) */
  constructor(options: { output: Writable; on?: readonly AlertOn[] | undefined }) {
    this.output = options.output;
    this.on = options.on ?? CHANNEL_DEFAULTS.on;
  }

  /** @inheritdoc */
  async send(alert: Alert): Promise<void> {
    this.output.write(`${consoleLine(alert)}\n`);
  }
}
