import * as z from "zod";
import { type Channel, type ChannelContext, deliveryPolicy as policy } from "./channel.js";
import { ConsoleChannel, ConsoleChannelConfig } from "./console-channel.js";
import { DesktopChannel, DesktopChannelConfig, type DesktopEnvironment } from "./desktop-channel.js";
import { EmailChannel, EmailChannelConfig } from "./email-channel.js";
import { SlackChannel, SlackChannelConfig } from "./slack-channel.js";
import { WebhookChannel, WebhookChannelConfig } from "./webhook-channel.js";

export type { Alert, AlertOn, Channel, ChannelContext, DeliveryPolicy } from "./channel.js";
export { type DeliveryHooks, deliver, deliveryBound } from "./delivery.js";

/** Every alert channel KIND. */
export const ChannelKind = z.discriminatedUnion("KIND", [
  ConsoleChannelConfig,
  DesktopChannelConfig,
  SlackChannelConfig,
  WebhookChannelConfig,
  EmailChannelConfig,
]);
export type ChannelKind = z.infer<typeof ChannelKind>;

/** What factories receive besides the config: the console, the logger, and test stand-ins. */
export interface ChannelFactoryContext extends ChannelContext {
  /** The desktop to notify on (default: this process's). */
  readonly desktop?: DesktopEnvironment | undefined;
}

const FACTORIES: {
  [K in ChannelKind["KIND"]]: (
    config: Extract<ChannelKind, { KIND: K }>,
    context: ChannelFactoryContext,
  ) => Channel;
} = {
  ConsoleChannel: (c, context) => new ConsoleChannel({ output: context.output, on: c.on }),
  DesktopChannel: (c, context) =>
    new DesktopChannel({ context, environment: context.desktop, on: c.on, policy: policy(c) }),
  SlackChannel: (c) => new SlackChannel({ webhookUrl: c.webhook_url, on: c.on, policy: policy(c) }),
  WebhookChannel: (c) =>
    new WebhookChannel({
      url: c.url,
      headers: c.headers,
      hmacSecret: c.hmac_secret,
      signatureHeader: c.signature_header,
      on: c.on,
      policy: policy(c),
    }),
  EmailChannel: (c) =>
    new EmailChannel({
      smtp: {
        host: c.host,
        port: c.port,
        secure: c.secure,
        starttls: c.starttls,
        tls: {
          rejectUnauthorized: c.tls.reject_unauthorized,
          servername: c.tls.servername,
          caFile: c.tls.ca_file,
          minVersion: c.tls.min_version,
        },
        username: c.username,
        password: c.password,
      },
      from: c.from,
      to: c.to,
      subjectPrefix: c.subject_prefix,
      on: c.on,
      policy: policy(c),
    }),
};

/** Builds the channel a config describes. */
export function createChannel(config: ChannelKind, context: ChannelFactoryContext): Channel {
  return (FACTORIES[config.KIND] as (c: ChannelKind, context: ChannelFactoryContext) => Channel)(
    config,
    context,
  );
}
