/**
 * The logging interface every module below the services takes: the calls they make, nothing of pino.
 * `services/logger.ts` makes one (a pino logger has these methods); a module that logs takes a `Logger`
 * (or `undefined`: silent) instead of importing the service.
 */

/** A level a {@link Logger} writes at, lowest first. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

/** One log call: a message, or structured fields and a message (pino's order). */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/** Where a module logs what it does: one method per level, as pino's logger has them. */
export interface Logger {
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;
  /** True when a line at that level would be written. */
  isLevelEnabled(level: LogLevel): boolean;
}
