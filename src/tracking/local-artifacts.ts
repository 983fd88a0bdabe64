import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Logger } from "../log.js";
import { artifactPathParts, type RunRecord } from "./run-record.js";

/** What a local store needs besides the record. */
export interface LocalStoreOptions {
  /** What relative paths are relative to (MLflow's default artifact root is `./mlruns`). */
  readonly cwd: string;
  readonly logger?: Logger | undefined;
}

/** Where a run's artifacts go on this machine, and the artifact URI to record for the run. */
export interface LocalArtifacts {
  readonly folder: string;
  readonly uri: string;
}

/**
 * The artifact folder of a new run in a local store: `<experiment artifact location>/<run id>/artifacts`,
 * as MLflow's stores make it. Stores record absolute locations, so a store copied to another folder points
 * elsewhere: when the experiment's folder does not exist but the longest of its trailing parts does under
 * the store's folder (`/old/place/mlruns/1` -> `<storeRoot>/mlruns/1`), that one is used and recorded,
 * as the registry reader resolves them. The URI keeps the location's form (`file://` URI or path).
 *
 * @param location - the experiment's artifact location
 * @param runId - the new run's id
 * @param storeRoot - the store's folder (the SQLite file's, or the `mlruns` folder)
 * @param cwd - what relative locations are relative to
 * @returns undefined when the location is not local (`s3://`, `mlflow-artifacts:`, ...)
 */
export function localRunArtifacts(
  location: string,
  runId: string,
  storeRoot: string,
  cwd: string,
): LocalArtifacts | undefined {
  let experimentFolder: string;
  let fileUri = false;
  if (location.startsWith("file://")) {
    experimentFolder = fileURLToPath(location);
    fileUri = true;
  } else if (location.startsWith("file:")) {
    experimentFolder = resolve(cwd, location.slice("file:".length));
    fileUri = true;
  } else if (/^[a-z][a-z0-9+.-]+:/i.test(location)) {
    return undefined;
  } else {
    experimentFolder = isAbsolute(location) ? location : resolve(cwd, location);
  }
  if (!existsSync(experimentFolder)) {
    const parts = experimentFolder.split(sep).filter((part) => part.length > 0);
    for (let i = 1; i < parts.length; i++) {
      const candidate = join(storeRoot, ...parts.slice(i));
      if (existsSync(candidate)) {
        const folder = join(candidate, runId, "artifacts");
        return { folder, uri: fileUri ? pathToFileURL(folder).href : folder };
      }
    }
  }
  const folder = join(experimentFolder, runId, "artifacts");
  return { folder, uri: `${location.replace(/\/+$/, "")}/${runId}/artifacts` };
}

/**
 * Writes a record's artifacts under a folder (created), synchronously; each file is written aside and
 * renamed into place, so that a reader never sees half of one (a file already there is replaced).
 */
export function writeArtifacts(folder: string, artifacts: RunRecord["artifacts"]): void {
  mkdirSync(folder, { recursive: true });
  for (const artifact of artifacts) {
    const target = join(folder, ...artifactPathParts(artifact.path));
    mkdirSync(dirname(target), { recursive: true });
    const aside = `${target}.mlbatch-${process.pid}.tmp`;
    try {
      writeFileSync(aside, artifact.content);
      renameSync(aside, target);
    } catch (error) {
      removeQuietly(aside);
      throw error;
    }
  }
}

/** Removes what a failed logging left (never throws: the failure that caused it is the one to report). */
export function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // nothing more to do
  }
}
