/**
 * Where loading a model says what it did at debug level (a cache used, missed or failed): the job's
 * logger, whose `debug` fits.
 */
export interface DebugLog {
  debug(message: string): void;
}

/** A log that drops every line. */
export const SILENT: DebugLog = { debug: () => undefined };
