import type { Writable } from "node:stream";
import pino, { type Logger as PinoLogger } from "pino";
import * as z from "zod";
import { type Service, serviceConfig } from "./service.js";

export type { Logger } from "../log.js";

/** Config of {@link LoggerService} (the reference's field names). */
export const LoggerServiceConfig = z
  .strictObject({
    KIND: z.literal("LoggerService").optional(),
    sink: z
      .string()
      .min(1)
      .default("stderr")
      .describe("Where logs go: stderr (default), stdout, or a file path (appended)."),
    level: z
      .enum([
        "TRACE",
        "DEBUG",
        "INFO",
        "WARNING",
        "WARN",
        "ERROR",
        "CRITICAL",
        "trace",
        "debug",
        "info",
        "warn",
        "error",
        "fatal",
      ])
      .default("INFO")
      .describe("Lowest level logged."),
    serialize: z
      .boolean()
      .optional()
      .describe(
        "JSON lines (true) or readable lines (false). Default: readable on a terminal, JSON lines otherwise.",
      ),
    colorize: z.boolean().default(true).describe("Colors in readable lines on a terminal."),
  })
  .describe("Logging service: one line per job step.");
export type LoggerServiceConfig = z.output<typeof LoggerServiceConfig>;
/** {@link LoggerServiceConfig} as a YAML mapping holds it: every field with a default may be left out. */
export type LoggerServiceInput = z.input<typeof LoggerServiceConfig>;

const LEVELS: Readonly<Record<Lowercase<LoggerServiceConfig["level"]>, pino.Level>> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warning: "warn",
  warn: "warn",
  error: "error",
  critical: "fatal",
  fatal: "fatal",
};

/**
 * The job's logger (pino): readable lines on a terminal, JSON lines otherwise, to stderr by default so
 * stdout stays for notifications and results.
 *
 * @example
 * ```ts
 * const service = new LoggerService({ level: "DEBUG" });
 * await service.start();
 * service.logger.info("Read inputs");
 * ```
 */
export class LoggerService implements Service {
  private current: PinoLogger | undefined;
  /** The messages logged at warning level since start, for the run report. */
  readonly warnings: string[] = [];
  private file: ReturnType<typeof pino.destination> | undefined;
  private readonly config: LoggerServiceConfig;

  /**
   * @param config - sink, level, serialize, colorize (the schema's defaults for those left out)
   * @param destination - a stream to log to instead of the sink (tests)
   * @throws MlbatchError `E_CONFIG` when the config is not valid
   */
  constructor(
    config: LoggerServiceInput = {},
    private readonly destination?: Writable,
  ) {
    this.config = serviceConfig(LoggerServiceConfig, config, "logger_service");
  }

  /** True when the logs go to the process's stderr (the default sink). */
  get writesToStderr(): boolean {
    return this.destination === undefined && this.config.sink === "stderr";
  }

  /** The logger; a silent one before {@link LoggerService.start}. */
  get logger(): PinoLogger {
    return this.current ?? SILENT;
  }

  /** @inheritdoc */
  async start(): Promise<void> {
    const { sink } = this.config;
    const level = LEVELS[this.config.level.toLowerCase() as Lowercase<LoggerServiceConfig["level"]>];
    let stream: pino.DestinationStream | Writable;
    if (this.destination !== undefined) stream = this.destination;
    else if (sink === "stderr" || sink === "stdout")
      stream = pino.destination({ fd: sink === "stderr" ? 2 : 1, sync: true });
    else stream = this.file = pino.destination({ dest: sink, append: true, mkdir: true, sync: true });
    const tty =
      this.destination === undefined &&
      (sink === "stderr" ? process.stderr.isTTY : sink === "stdout" && process.stdout.isTTY);
    const serialize = this.config.serialize ?? !tty;
    if (!serialize) {
      const { default: pretty } = await import("pino-pretty");
      stream = pretty({
        destination: stream as Writable,
        colorize: tty && this.config.colorize,
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "pid,hostname",
        sync: true,
      });
    }
    const warnings = this.warnings;
    this.current = pino(
      {
        level,
        base: null,
        timestamp: pino.stdTimeFunctions.isoTime,
        hooks: {
          logMethod(args, method, number) {
            if (number === 40) {
              const message = args.find((arg): arg is string => typeof arg === "string");
              if (message !== undefined) warnings.push(message);
            }
            return method.apply(this, args);
          },
        },
      },
      stream,
    );
  }

  /** @inheritdoc */
  async stop(): Promise<void> {
    this.current?.flush();
    this.file?.end();
    this.current = undefined;
    this.file = undefined;
  }
}

const SILENT = pino({ level: "silent" });
