import type { ErrorCode, JobStep } from "../errors.js";

/**
 * What a job tells people when it finishes or fails: the facts every alert channel formats its own way.
 *
 * @example
 * ```ts
 * const event: JobEvent = { event: "finished", job: "Inference Job", status: "success", shape: [3476, 2], ... };
 * ```
 */
export interface JobEvent {
  readonly event: "finished" | "failed";
  /** The job's title, e.g. "Inference Job". */
  readonly job: string;
  readonly status: "success" | "failure";
  /** (rows, columns) of the outputs, when written. */
  readonly shape?: readonly [number, number] | undefined;
  readonly rows?:
    | { readonly read?: number; readonly written?: number; readonly rejected?: number }
    | undefined;
  readonly model?:
    | {
        readonly name: string;
        readonly version?: number | undefined;
        readonly alias?: string | undefined;
        readonly uri: string;
      }
    | undefined;
  /** Wall time of the whole job and of each step, in seconds. */
  readonly durations?: Readonly<Record<string, number>> | undefined;
  readonly outputs?: string | undefined;
  readonly error?:
    | { readonly step?: JobStep | undefined; readonly code: ErrorCode; readonly message: string }
    | undefined;
}

/** The one-line title and message of an event, as the reference's desktop alert shows them. */
export function headline(event: JobEvent): { title: string; message: string } {
  if (event.event === "failed") {
    return {
      title: `${event.job} Failed`,
      message: `[${event.error?.code ?? "E_INTERNAL"}] ${event.error?.message ?? "unknown error"}`,
    };
  }
  const shape = event.shape === undefined ? "" : `Outputs Shape: (${event.shape[0]}, ${event.shape[1]})`;
  return { title: `${event.job} Finished`, message: shape };
}
