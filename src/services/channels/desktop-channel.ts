import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import * as z from "zod";
import { headline } from "../job-event.js";
import {
  type Alert,
  type AlertOn,
  CHANNEL_DEFAULTS,
  type Channel,
  type ChannelContext,
  DELIVERY_FIELDS,
  type DeliveryPolicy,
  ON_FIELD,
} from "./channel.js";
import { consoleLine } from "./console-channel.js";

/** Config of {@link DesktopChannel}. */
export const DesktopChannelConfig = z
  .strictObject({
    KIND: z.literal("DesktopChannel"),
    ...ON_FIELD,
    ...DELIVERY_FIELDS,
  })
  .describe(
    "A native desktop notification (node-notifier: notify-send on Linux, Notification Center on macOS, " +
      "toasts on Windows), as the reference package shows; the console line where there is no desktop.",
  );
export type DesktopChannelConfig = z.infer<typeof DesktopChannelConfig>;

/** The part of node-notifier the channel uses (a stand-in in tests). */
export interface Notifier {
  notify(
    notification: { title: string; message: string; timeout?: number; wait?: boolean },
    callback: (error: Error | null) => void,
  ): unknown;
}

/** Where the channel runs: the OS, the environment (DISPLAY, PATH) and the notifier. */
export interface DesktopEnvironment {
  readonly platform: NodeJS.Platform;
  readonly env: NodeJS.ProcessEnv;
  /** Default: node-notifier, loaded on first use. */
  readonly notifier?: Notifier | undefined;
}

/** Whether native notifications can be shown here, and if not, why. */
export type DesktopSupport =
  | { readonly supported: true }
  | { readonly supported: false; readonly reason: string };

const UNIX_DESKTOPS: readonly NodeJS.Platform[] = ["linux", "freebsd", "openbsd", "netbsd"];

/**
 * Whether native notifications can be shown: always on macOS and Windows; on Linux and the BSDs only in a
 * graphical session (`DISPLAY` or `WAYLAND_DISPLAY` set) with `notify-send` on the `PATH`.
 *
 * @example
 * ```ts
 * desktopSupport({ platform: "linux", env: {} }); // { supported: false, reason: "no graphical session ..." }
 * ```
 */
export function desktopSupport(environment: Pick<DesktopEnvironment, "platform" | "env">): DesktopSupport {
  const { platform, env } = environment;
  if (platform === "darwin" || platform === "win32") return { supported: true };
  if (!UNIX_DESKTOPS.includes(platform))
    return { supported: false, reason: `no native notifications on ${platform}` };
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY)
    return { supported: false, reason: "no graphical session (DISPLAY and WAYLAND_DISPLAY are unset)" };
  if (!onPath("notify-send", env.PATH ?? ""))
    return { supported: false, reason: "notify-send is not installed (package libnotify-bin or libnotify)" };
  return { supported: true };
}

function onPath(command: string, path: string): boolean {
  return path
    .split(delimiter)
    .filter((dir) => dir.length > 0)
    .some((dir) => {
      try {
        accessSync(join(dir, command), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/**
 * Shows a native desktop notification, titled `[<app_name>] <title>`, visible for `alerts_service.timeout`
 * seconds. Where the OS has no desktop (a server, a container, CI), writes the console line instead and
 * logs a note once.
 *
 * @example
 * ```ts
 * const channel = new DesktopChannel({ context: { output: process.stdout, logger: () => undefined } });
 * await channel.send(alert, AbortSignal.timeout(10_000));
 * ```
 */
export class DesktopChannel implements Channel {
  readonly label = "DesktopChannel";
  readonly secrets: readonly string[] = [];
  readonly on: readonly AlertOn[];
  readonly policy: DeliveryPolicy;
  private readonly context: ChannelContext;
  private readonly environment: DesktopEnvironment;
  private noted = false;

  /**
   * @param options - `context`: console output, logger and display time; `environment`: the OS, its
   * environment and notifier (default: this process's); `on` and `policy` (defaults: both outcomes, 10 s,
   * 3 attempts, 1 s backoff)
   */
  constructor(options: {
    context: ChannelContext;
    environment?: DesktopEnvironment | undefined;
    on?: readonly AlertOn[] | undefined;
    policy?: DeliveryPolicy | undefined;
  }) {
    this.context = options.context;
    this.environment = options.environment ?? { platform: process.platform, env: process.env };
    this.on = options.on ?? CHANNEL_DEFAULTS.on;
    this.policy = options.policy ?? CHANNEL_DEFAULTS.policy;
  }

  /** @inheritdoc */
  async send(alert: Alert): Promise<void> {
    const support = desktopSupport(this.environment);
    if (!support.supported) {
      if (!this.noted) {
        this.noted = true;
        this.context
          .logger()
          ?.warn(`[Alerts] DesktopChannel: ${support.reason}; the alert goes to the console instead`);
      }
      this.context.output.write(`${consoleLine(alert)}\n`);
      return;
    }
    const notifier = this.environment.notifier ?? ((await import("node-notifier")).default as Notifier);
    const { title, message } = headline(alert.event);
    await new Promise<void>((resolve, reject) => {
      notifier.notify(
        {
          title: `[${alert.appName}] ${title}`,
          message: message || title,
          timeout: this.context.displaySeconds ?? 10,
          wait: false,
        },
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }
}
