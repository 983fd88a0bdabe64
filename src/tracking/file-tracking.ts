import { randomInt } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

import { MlbatchError, messageOf } from "../errors.js";
import { yaml } from "../packages.js";
import {
  type LocalStoreOptions,
  localRunArtifacts,
  removeQuietly,
  writeArtifacts,
} from "./local-artifacts.js";
import {
  deletedExperiment,
  type LoggedRun,
  newRunId,
  type RunRecord,
  runTags,
  runUser,
} from "./run-record.js";

const { parse, stringify } = yaml;

/** MLflow's `RunStatus` numbers, as the file store's meta.yaml keeps them. */
const STATUS_NUMBER = { FINISHED: 3, FAILED: 4 } as const;
/** `SourceType.LOCAL`: what MLflow's file store records for every run. */
const SOURCE_TYPE_LOCAL = 4;
/** Root folders that are not experiments. */
const NOT_EXPERIMENTS = new Set(["models", ".trash"]);

type Meta = Record<string, unknown>;
interface Experiment {
  readonly id: string;
  /** The experiment's folder. */
  readonly folder: string;
  readonly location: string;
}

/**
 * Logs a finished run into an MLflow file store (`./mlruns`, `file:///.../mlruns`) as MLflow's FileStore
 * writes it: `<experiment id>/<run id>/meta.yaml`, `params/<key>` and `tags/<key>` (the value),
 * `metrics/<key>` (`<timestamp> <value> <step>` lines), and the artifacts under the run's artifact URI
 * (`<experiment artifact location>/<run id>/artifacts`). A missing experiment is created (a random 18-digit
 * id, `meta.yaml`), and a missing store too (with MLflow's `Default` experiment 0 and `.trash`). Files are
 * written in the store's own generation: MLflow 3's `meta.yaml` fields when its experiments have them,
 * MLflow 2's otherwise (which MLflow 3 reads too). The run folder is assembled aside and renamed into place,
 * so no reader sees half a run.
 *
 * @example
 * ```ts
 * const run = logRunToFileStore("./mlruns", "mlruns", record, { cwd: process.cwd() });
 * ```
 * @param uri - the tracking URI, for messages
 * @param root - the `mlruns` folder
 * @param record - the run
 * @param options - working directory, logger
 * @throws MlbatchError `E_TRACKING` when the store cannot be written, or the experiment is deleted
 */
export function logRunToFileStore(
  uri: string,
  root: string,
  record: RunRecord,
  options: LocalStoreOptions,
): LoggedRun {
  const written: string[] = [];
  try {
    prepareStore(uri, root, options);
    const mlflow3 = isMlflow3Store(root);
    const experiment =
      findExperiment(uri, root, record.experimentName) ??
      createExperiment(root, record.experimentName, mlflow3, options);
    const runId = newRunId();
    const runFolder = join(experiment.folder, runId);
    const artifacts = localRunArtifacts(experiment.location, runId, root, options.cwd);
    const artifactUri = artifacts?.uri ?? `${experiment.location.replace(/\/+$/, "")}/${runId}/artifacts`;
    const staging = join(experiment.folder, `.mlbatch-${runId}.tmp`);
    written.push(staging);
    writeRunFiles(staging, record, { runId, experimentId: experiment.id, artifactUri, mlflow3 });
    if (artifacts === undefined) {
      if (record.artifacts.length > 0) {
        options.logger?.warn(
          `[Tracking] Artifacts of run ${runId} not written: the artifact location ${experiment.location} of ` +
            `experiment "${record.experimentName}" is not a local folder`,
        );
      }
    } else if (artifacts.folder === join(runFolder, "artifacts")) {
      writeArtifacts(join(staging, "artifacts"), record.artifacts);
    } else if (record.artifacts.length > 0) {
      written.push(dirname(artifacts.folder));
      writeArtifacts(artifacts.folder, record.artifacts);
    }
    renameSync(staging, runFolder);
    return { experimentId: experiment.id, runId, artifactUri };
  } catch (error) {
    for (const path of written) removeQuietly(path);
    if (error instanceof MlbatchError) throw error;
    throw new MlbatchError(
      "E_TRACKING",
      `cannot log the run into MLflow file store ${uri} ("${root}"): ${messageOf(error)}. ` +
        "Check that the folder is an MLflow store (mlruns) this user may write.",
      { cause: error },
    );
  }
}

/** Writes a run's `meta.yaml`, params, metrics and tags (and an empty `artifacts`) into its folder. */
function writeRunFiles(
  folder: string,
  record: RunRecord,
  run: { runId: string; experimentId: string; artifactUri: string; mlflow3: boolean },
): void {
  mkdirSync(folder, { recursive: true });
  writeYaml(join(folder, "meta.yaml"), {
    artifact_uri: run.artifactUri,
    end_time: record.endTime,
    entry_point_name: "",
    experiment_id: run.experimentId,
    lifecycle_stage: "active",
    run_id: run.runId,
    run_name: record.runName,
    ...(run.mlflow3 ? {} : { run_uuid: run.runId }),
    source_name: "",
    source_type: SOURCE_TYPE_LOCAL,
    source_version: "",
    start_time: record.startTime,
    status: STATUS_NUMBER[record.status],
    tags: [],
    user_id: runUser(record),
  });
  for (const sub of ["params", "metrics", "tags", "artifacts"]) mkdirSync(join(folder, sub));
  for (const [key, value] of Object.entries(record.params)) writeValue(join(folder, "params"), key, value);
  for (const [key, value] of Object.entries(runTags(record))) writeValue(join(folder, "tags"), key, value);
  for (const [key, value] of Object.entries(record.metrics)) {
    writeValue(join(folder, "metrics"), key, `${record.endTime} ${pythonFloat(value)} 0\n`);
  }
}

/** Makes a missing store as MLflow does on first use: the folder, the `Default` experiment 0, `.trash`. */
function prepareStore(uri: string, root: string, options: LocalStoreOptions): void {
  if (existsSync(root) && !statSync(root).isDirectory()) {
    throw new MlbatchError(
      "E_TRACKING",
      `MLflow tracking store ${uri}: "${root}" is a file, not an mlruns folder. Set mlflow_service.tracking_uri to your store.`,
    );
  }
  if (!existsSync(root)) {
    mkdirSync(root, { recursive: true });
    writeExperiment(root, "0", "Default", false);
    options.logger?.info(`[Tracking] Created MLflow file store ${root}`);
  }
  mkdirSync(join(root, ".trash"), { recursive: true });
}

/** The experiment of that name, or undefined; a deleted one (in `.trash`) is an error, as in MLflow. */
function findExperiment(uri: string, root: string, name: string): Experiment | undefined {
  for (const id of subfolders(root)) {
    if (NOT_EXPERIMENTS.has(id) || id.startsWith(".")) continue;
    const meta = readMeta(join(root, id, "meta.yaml"));
    if (meta?.name !== name) continue;
    if (meta.lifecycle_stage === "deleted") throw deleted(uri, name, id);
    return {
      id: String(meta.experiment_id ?? id),
      folder: join(root, id),
      location: String(meta.artifact_location ?? `${pathToFileURL(root).href}/${id}`),
    };
  }
  const trash = join(root, ".trash");
  for (const id of subfolders(trash)) {
    if (readMeta(join(trash, id, "meta.yaml"))?.name === name) throw deleted(uri, name, id);
  }
  return undefined;
}

function createExperiment(
  root: string,
  name: string,
  mlflow3: boolean,
  options: LocalStoreOptions,
): Experiment {
  let id = uniqueIntegerId();
  while (existsSync(join(root, id)) || existsSync(join(root, ".trash", id))) id = uniqueIntegerId();
  const location = writeExperiment(root, id, name, mlflow3);
  options.logger?.info(
    { experiment_id: id },
    `[Tracking] Created experiment "${name}" (${id}) in ${root}, artifacts under ${location}`,
  );
  return { id, folder: join(root, id), location };
}

/** Writes an experiment's folder and meta.yaml; returns its artifact location (`file://<root>/<id>`). */
function writeExperiment(root: string, id: string, name: string, mlflow3: boolean): string {
  const location = `${pathToFileURL(root).href}/${id}`;
  const now = Date.now();
  mkdirSync(join(root, id), { recursive: true });
  writeYaml(join(root, id, "meta.yaml"), {
    artifact_location: location,
    creation_time: now,
    experiment_id: id,
    last_update_time: now,
    lifecycle_stage: "active",
    name,
    ...(mlflow3
      ? { effective_trace_archival_retention: null, trace_location: null, workspace: "default" }
      : {}),
  });
  return location;
}

/** True when the store's experiments have MLflow 3's `workspace` field. */
function isMlflow3Store(root: string): boolean {
  return subfolders(root).some(
    (id) =>
      !NOT_EXPERIMENTS.has(id) &&
      !id.startsWith(".") &&
      readMeta(join(root, id, "meta.yaml"))?.workspace !== undefined,
  );
}

/**
 * MLflow's `_generate_unique_integer_id`: 18 random digits, the first not 0.
 */
function uniqueIntegerId(): string {
  let id = String(randomInt(1, 10));
  while (id.length < 18) id += String(randomInt(0, 10));
  return id;
}

/** A value file (`params/<key>`, `tags/<key>`, `metrics/<key>`); a key with slashes makes subfolders. */
function writeValue(folder: string, key: string, content: string): void {
  const path = join(folder, ...key.split("/"));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** YAML as MLflow's `write_yaml` makes it: block style, keys sorted, single-quoted strings when needed. */
function writeYaml(path: string, data: Meta): void {
  writeFileSync(path, stringify(data, { sortMapEntries: true, singleQuote: true, lineWidth: 0 }));
}

/** A number as Python prints a float (`3476.0`, `nan`, `inf`), as MLflow writes metric lines. */
function pythonFloat(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  return Number.isInteger(value) && Math.abs(value) < 1e16 ? value.toFixed(1) : String(value);
}

function readMeta(path: string): Meta | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return (parse(readFileSync(path, "utf8")) as Meta | null) ?? undefined;
  } catch {
    return undefined; // a malformed experiment: MLflow skips it too
  }
}

function subfolders(path: string): string[] {
  if (!existsSync(path)) return [];
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

function deleted(uri: string, name: string, id: string): MlbatchError {
  return deletedExperiment(name, id, `MLflow file store ${uri}`, " (in .trash)");
}
