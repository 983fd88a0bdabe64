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
  /** What people should know of a finished run (e.g. the inputs drifted), appended to its headline. */
  readonly warning?: string | undefined;
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
  const warning = event.warning === undefined ? "" : `${shape === "" ? "" : "; "}Warning: ${event.warning}`;
  return { title: `${event.job} Finished`, message: `${shape}${warning}` };
}

/** One labelled fact of an event, as channels show them (Slack fields, email lines). */
export interface EventFact {
  readonly label: string;
  readonly value: string;
}

/**
 * The facts of an event worth showing people, in reading order: model, outputs shape, rows, outputs path,
 * duration and, for a failure, the step and error code (the error message is left to each channel, as it
 * may be long).
 *
 * @example
 * ```ts
 * eventFacts(event); // [{ label: "Model", value: "bikes v2 (alias Champion)" }, ...]
 * ```
 */
export function eventFacts(event: JobEvent): EventFact[] {
  const facts: EventFact[] = [];
  if (event.model !== undefined) facts.push({ label: "Model", value: modelLabel(event.model) });
  if (event.error !== undefined) {
    facts.push({ label: "Failed step", value: event.error.step ?? "unknown" });
    facts.push({ label: "Error code", value: event.error.code });
  }
  if (event.shape !== undefined)
    facts.push({ label: "Outputs shape", value: `(${event.shape[0]}, ${event.shape[1]})` });
  const rows = event.rows;
  if (rows !== undefined) {
    const parts = [
      rows.read === undefined ? undefined : `${rows.read} read`,
      rows.written === undefined ? undefined : `${rows.written} written`,
      rows.rejected === undefined ? undefined : `${rows.rejected} rejected`,
    ].filter((part) => part !== undefined);
    if (parts.length > 0) facts.push({ label: "Rows", value: parts.join(", ") });
  }
  if (event.outputs !== undefined) facts.push({ label: "Outputs", value: event.outputs });
  if (event.warning !== undefined) facts.push({ label: "Warning", value: event.warning });
  const total = event.durations?.total;
  if (total !== undefined) facts.push({ label: "Duration", value: `${total.toFixed(1)} s` });
  return facts;
}

/** `bikes v2 (alias Champion)`, or the URI asked for when no version was resolved. */
function modelLabel(model: NonNullable<JobEvent["model"]>): string {
  if (model.version === undefined) return model.uri;
  return `${model.name} v${model.version}${model.alias === undefined ? "" : ` (alias ${model.alias})`}`;
}
