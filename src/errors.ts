/**
 * Every error code mlbatch raises. The CLI maps `E_CONFIG` and `E_USAGE` to exit code 2,
 * `E_INTERRUPTED` to 128 + the signal's number (143 for SIGTERM, 130 for SIGINT), every other code to 1.
 */
export type ErrorCode =
  | "E_USAGE"
  | "E_CONFIG"
  | "E_READ"
  | "E_SCHEMA"
  | "E_REGISTRY"
  | "E_AUTH"
  | "E_MODEL_NOT_FOUND"
  | "E_MODEL_LOAD"
  | "E_PREDICT"
  | "E_DRIFT"
  | "E_WRITE"
  | "E_TRACKING"
  | "E_INTERRUPTED"
  | "E_INTERNAL";

/** The step of a job during which an error happened, for logs and failure notifications. */
export type JobStep = "config" | "services" | "read" | "validate" | "load" | "predict" | "write" | "notify";

/**
 * The one error class of mlbatch: a literal `code`, a message that says what failed, why and what to
 * do, and the underlying `cause` when there is one.
 *
 * @example
 * ```ts
 * throw new MlbatchError("E_READ", `cannot read "${path}": no such file. Check inputs.path.`);
 * ```
 */
export class MlbatchError extends Error {
  override readonly name = "MlbatchError";
  /** The step during which the error happened, set by the job that catches it. */
  step?: JobStep;
  /** True once the job logged it to stderr, where the CLI would print it: the CLI prints it no more. */
  reported?: boolean;

  /**
   * @param code - the machine-readable error code tests and callers match on
   * @param message - what failed (with the path, column, alias or URI), why, and what to do
   * @param options - `cause`: the underlying error
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `error` is an {@link MlbatchError}, optionally with the given code. */
export function isMlbatchError(error: unknown, code?: ErrorCode): error is MlbatchError {
  return error instanceof MlbatchError && (code === undefined || error.code === code);
}

/** The message of any thrown value, for wrapping foreign errors. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
