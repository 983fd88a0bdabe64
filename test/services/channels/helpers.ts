/** Test helpers for alert channels: a local HTTP receiver on 127.0.0.1 and captured job logs. */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AlertsService,
  AlertsServiceConfig,
  type AlertsServiceOptions,
} from "../../../src/services/alerts.js";
import type { JobEvent } from "../../../src/services/job-event.js";
import { LoggerService } from "../../../src/services/logger.js";
import { Capture } from "../../helpers.js";

/** One request the receiver got. */
export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The raw body, as signed. */
  readonly body: string;
}

/** How the receiver answers the n-th request (1-based): an HTTP status, or "hang" (never answers). */
export type Answer = number | "hang";

/**
 * A local HTTP server that records every request and answers as told (e.g. 500 first, then 200).
 *
 * @example
 * ```ts
 * const receiver = await HttpReceiver.start((n) => (n === 1 ? 500 : 200));
 * ...
 * await receiver.close();
 * ```
 */
export class HttpReceiver {
  private constructor(
    private readonly server: Server,
    readonly origin: string,
    /** Every request so far, in arrival order. */
    readonly requests: Received[],
  ) {}

  static async start(answer: (n: number) => Answer = () => 200): Promise<HttpReceiver> {
    const requests: Received[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        requests.push({
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        const status = answer(requests.length);
        if (status === "hang") return;
        // Errors echo the request, as some servers do: secrets in it must be redacted from logs.
        const echo = `status ${status} for ${req.url} (authorization: ${req.headers.authorization ?? "none"})`;
        res.writeHead(status, { "Content-Type": "text/plain" }).end(status < 300 ? "ok" : echo);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return new HttpReceiver(server, `http://127.0.0.1:${port}`, requests);
  }

  /** A URL on this receiver. */
  url(path: string): string {
    return `${this.origin}${path}`;
  }

  /** Stops listening and drops open (hanging) connections. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A started logger writing JSON lines at DEBUG level to a capture, as a job's logger would. */
export async function capturedLogger(): Promise<{ service: LoggerService; logs: Capture }> {
  const logs = new Capture();
  const service = new LoggerService({ level: "DEBUG", serialize: true }, logs);
  await service.start();
  return { service, logs };
}

/** The parsed JSON log lines. */
export function logLines(logs: Capture): { level: number; msg: string; [key: string]: unknown }[] {
  return logs.lines.map((line) => JSON.parse(line) as { level: number; msg: string });
}

/** A finished event as an inference job sends it. */
export const FINISHED: JobEvent = {
  event: "finished",
  job: "Inference Job",
  status: "success",
  model: { name: "bikes", version: 2, alias: "Champion", uri: "models:/bikes@Champion" },
  rows: { read: 3476, written: 3476, rejected: 0 },
  outputs: "outputs/predictions_test.parquet",
  durations: {
    services: 0.0123,
    read: 0.0456,
    load: 0.21,
    validate: 0.1,
    predict: 0.3,
    write: 0.08,
    total: 0.9234,
  },
  shape: [3476, 2],
};

/** A failed event as an inference job sends it when its inputs are missing. */
export const FAILED: JobEvent = {
  event: "failed",
  job: "Inference Job",
  status: "failure",
  durations: { services: 0.01, read: 0.002, total: 0.0151 },
  error: {
    step: "read",
    code: "E_READ",
    message: 'cannot read inputs "data/missing.parquet": no such file. Check inputs.path.',
  },
};

/** An alerts service from a config (parsed, so defaults apply) with its logs captured. */
export async function alertsService(
  config: Record<string, unknown>,
  options: Omit<AlertsServiceOptions, "logger"> = {},
): Promise<{ alerts: AlertsService; logs: Capture; console: Capture; stop: () => Promise<void> }> {
  const { service, logs } = await capturedLogger();
  const console = new Capture();
  const alerts = new AlertsService(AlertsServiceConfig.parse(config), console, {
    ...options,
    logger: () => service.logger,
  });
  await alerts.start();
  return {
    alerts,
    logs,
    console,
    stop: async () => {
      await alerts.stop();
      await service.stop();
    },
  };
}
