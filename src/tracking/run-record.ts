import { posix } from "node:path";
import { MlbatchError } from "../errors.js";

/**
 * One finished job run, as MLflow tracking records it: the experiment it belongs to, its name, outcome and
 * times, and its params, metrics, tags and artifacts. {@link runRecordFromReport} builds one from a job's
 * run report.
 */
export interface RunRecord {
  /** The experiment (`mlflow_service.experiment_name`), created when missing. */
  readonly experimentName: string;
  /** The run's name (also its `mlflow.runName` tag), e.g. `mlbatch-inference-20261127-101530`. */
  readonly runName: string;
  /** How the run ended. */
  readonly status: "FINISHED" | "FAILED";
  /** Milliseconds since the epoch. */
  readonly startTime: number;
  /** Milliseconds since the epoch; also the metrics' timestamp. */
  readonly endTime: number;
  /** String values (at most 6000 characters each, as MLflow allows). */
  readonly params: Readonly<Record<string, string>>;
  /** Logged once each, at step 0. */
  readonly metrics: Readonly<Record<string, number>>;
  /** String values (at most 8000 characters each); `mlflow.user` also sets the run's user. */
  readonly tags: Readonly<Record<string, string>>;
  /** Text files stored under the run's artifacts, at a relative path (`report.json`, `reports/a.json`). */
  readonly artifacts: readonly { readonly path: string; readonly content: string }[];
}

/** Where a run was logged. */
export interface LoggedRun {
  readonly experimentId: string;
  /** 32 hexadecimal characters, as MLflow's run ids. */
  readonly runId: string;
  /** The run's artifact URI (`mlflow-artifacts:/1/<run>/artifacts`, `file:///.../artifacts`, a path). */
  readonly artifactUri: string;
}

/** MLflow's limits (mlflow/utils/validation.py). */
const MAX_KEY_LENGTH = 250;
const MAX_PARAM_LENGTH = 6000;
const MAX_TAG_LENGTH = 8000;
const MAX_EXPERIMENT_NAME_LENGTH = 500;
/** The characters MLflow accepts in param, metric and tag keys (on POSIX). */
const VALID_KEY = /^[/\w.\- :]+$/;

/** The tag MLflow keeps the run's name in. */
export const RUN_NAME_TAG = "mlflow.runName";
/** The tag MLflow takes the run's user from. */
export const USER_TAG = "mlflow.user";

/**
 * Checks a record against MLflow's rules (key characters and lengths, value lengths, artifact paths), so
 * that nothing is written for a record MLflow would refuse.
 *
 * @throws MlbatchError `E_TRACKING` naming every problem
 */
export function checkRunRecord(record: RunRecord): void {
  const problems: string[] = [];
  const name = record.experimentName;
  if (name.trim() === "" || name.length > MAX_EXPERIMENT_NAME_LENGTH) {
    problems.push(`experiment name "${name}": 1 to ${MAX_EXPERIMENT_NAME_LENGTH} characters expected`);
  }
  if (record.runName.trim() === "" || record.runName.length > MAX_KEY_LENGTH) {
    problems.push(`run name "${record.runName}": 1 to ${MAX_KEY_LENGTH} characters expected`);
  }
  for (const [field, time] of [
    ["startTime", record.startTime],
    ["endTime", record.endTime],
  ] as const) {
    if (!Number.isSafeInteger(time) || time < 0) problems.push(`${field} ${time}: milliseconds expected`);
  }
  const keys = (kind: string, entries: [string, unknown][]) => {
    for (const [key] of entries) {
      const problem = keyProblem(key);
      if (problem !== undefined) problems.push(`${kind} "${key}": ${problem}`);
    }
  };
  keys("param", Object.entries(record.params));
  keys("metric", Object.entries(record.metrics));
  keys("tag", Object.entries(record.tags));
  for (const [key, value] of Object.entries(record.params)) {
    if (value.length > MAX_PARAM_LENGTH)
      problems.push(`param "${key}": longer than ${MAX_PARAM_LENGTH} characters`);
  }
  for (const [key, value] of Object.entries(record.tags)) {
    if (value.length > MAX_TAG_LENGTH)
      problems.push(`tag "${key}": longer than ${MAX_TAG_LENGTH} characters`);
  }
  for (const [key, value] of Object.entries(record.metrics)) {
    if (typeof value !== "number") problems.push(`metric "${key}": not a number`);
  }
  const paths = new Set<string>();
  for (const { path } of record.artifacts) {
    if (!isRelativeArtifactPath(path))
      problems.push(`artifact "${path}": a relative path without ".." expected`);
    else if (paths.has(path)) problems.push(`artifact "${path}": given twice`);
    paths.add(path);
  }
  if (problems.length > 0) {
    throw new MlbatchError(
      "E_TRACKING",
      `invalid MLflow run record: ${problems.join("; ")}. MLflow would refuse it: fix the names and values logged.`,
    );
  }
}

/** The record's tags with `mlflow.runName` set to its run name, as MLflow's stores keep it. */
export function runTags(record: RunRecord): Record<string, string> {
  return { ...record.tags, [RUN_NAME_TAG]: record.runName };
}

/** The run's user: its `mlflow.user` tag, else `unknown` (as MLflow's client does). */
export function runUser(record: RunRecord): string {
  return record.tags[USER_TAG] || "unknown";
}

/** A run id as MLflow makes them: a random UUID's 32 hexadecimal characters. */
export function newRunId(): string {
  return crypto.randomUUID().replace(/-/g, "");
}

/** The parts of a relative artifact path. */
export function artifactPathParts(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

function isRelativeArtifactPath(path: string): boolean {
  if (path === "" || path.startsWith("/") || path.includes("\\")) return false;
  const normal = posix.normalize(path);
  return normal !== "." && !normal.startsWith("..") && artifactPathParts(path).every((p) => p !== "..");
}

/** Why MLflow would refuse a key (`_validate_param_name` and friends), or undefined. */
function keyProblem(key: string): string | undefined {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) return `1 to ${MAX_KEY_LENGTH} characters expected`;
  if (!VALID_KEY.test(key)) {
    return "only letters, digits, underscores, dashes, periods, spaces, colons and slashes are allowed";
  }
  const normal = posix.normalize(key);
  if (normal !== key || normal === "." || normal.startsWith("..") || normal.startsWith("/")) {
    return "it would resolve to another name as a file path";
  }
  return undefined;
}

/**
 * The error of logging into a deleted experiment, with how to restore it.
 *
 * @param name - the experiment's name
 * @param id - its id
 * @param store - the store as messages name it: `MLflow tracking server <uri>`, `MLflow file store <uri>`
 * @param where - where the store keeps it, e.g. ` (in .trash)`
 */
export function deletedExperiment(
  name: string,
  id: string | number,
  store: string,
  where = "",
): MlbatchError {
  return new MlbatchError(
    "E_TRACKING",
    `experiment "${name}" (id ${id}) of ${store} is deleted${where}: restore it ` +
      `(mlflow experiments restore --experiment-id ${id}), or set mlflow_service.experiment_name to another name.`,
  );
}
