/**
 * Drift as a job step: the inputs profiled (one DuckDB pass, on a connection of its own, while the model
 * predicts) and compared with the reference's profile: a dataset's (profiled here), a profile file's, or
 * the previous run's (its JSON report's `profile`).
 */
import { existsSync, readFileSync } from "node:fs";
import type { Database } from "../../data/database.js";
import { compareProfiles } from "../../data/drift.js";
import { profileTable } from "../../data/profile.js";
import type { Source, SourceColumn } from "../../data/source.js";
import { quotedString } from "../../data/sql.js";
import { MlbatchError, messageOf } from "../../errors.js";
import type { DataProfile, DriftReport } from "../../report/sections.js";
import type { DriftSettings } from "../settings.js";

/** What the drift step found: the inputs' profile, and their drift when a reference was found. */
export interface DriftOutcome {
  readonly profile: DataProfile;
  readonly drift: DriftReport | undefined;
  /** Why drift was not checked (no previous run), for a warning. */
  readonly skipped?: string | undefined;
}

/** What {@link driftOf} profiles. */
export interface DriftRun {
  readonly settings: DriftSettings;
  /** The rows predicted. */
  readonly source: Source;
  /** The model's input columns: profiled unless `drift.columns` names others. */
  readonly features: readonly string[];
  /** The job's JSON report (`previous` reads the profile there). */
  readonly report: string | undefined;
  /** The profile logged to the model version's run (`reference: model`), read before the rows are. */
  readonly logged?: LoggedProfile | undefined;
}

/** A reference profile and what the report calls it (`model models:/bikes/2`). */
export interface LoggedProfile {
  readonly profile: DataProfile;
  readonly name: string;
}

/**
 * Profiles the inputs and compares them with the reference.
 *
 * @throws MlbatchError `E_CONFIG` for a column not in the inputs, or `previous` without `job.report`;
 * `E_READ` for a reference that cannot be read
 */
export async function driftOf(db: Database, run: DriftRun): Promise<DriftOutcome> {
  const { settings, source } = run;
  const columns = profiledColumns(run);
  const logged = settings.reference === "model" ? loggedReference(run) : undefined;
  const reference = logged?.name ?? settings.reference;
  const found = logged?.profile ?? (await referenceProfile(db, run, columns));
  const profile = await profileTable(db, {
    table: source.query(),
    label: source.label,
    columns,
    reference: found,
  });
  if (found === undefined) {
    return {
      profile,
      drift: undefined,
      skipped: `no previous run's profile in ${run.report}: drift not checked (this run's profile is the next one's reference)`,
    };
  }
  return { profile, drift: compareProfiles(found, profile, settings.thresholds, reference) };
}

function profiledColumns(run: DriftRun): SourceColumn[] {
  const names = run.settings.columns ?? run.features;
  const missing = names.filter((name) => run.source.typeOf(name) === undefined);
  if (missing.length > 0) {
    throw new MlbatchError(
      "E_CONFIG",
      `drift column(s) ${missing.map((m) => `"${m}"`).join(", ")} not found in inputs "${run.source.label}". ` +
        "Fix job.drift.columns.",
    );
  }
  return names.map((name) => ({ name, type: run.source.typeOf(name)! }));
}

/** The profile `mlbatch profile --log` logged with the model version (`reference: model`). */
function loggedReference(run: DriftRun): LoggedProfile {
  if (run.logged === undefined) {
    throw new MlbatchError("E_INTERNAL", "drift.reference is model, but the run gave no logged profile");
  }
  return run.logged;
}

/** The reference's profile (with its bins); undefined for `previous` when no previous run left one. */
async function referenceProfile(
  db: Database,
  run: DriftRun,
  columns: readonly SourceColumn[],
): Promise<DataProfile | undefined> {
  const { reference } = run.settings;
  if (reference === "previous") {
    if (run.report === undefined) {
      throw new MlbatchError(
        "E_CONFIG",
        "drift.reference is previous, but the job writes no report to find the previous run's profile in: " +
          "set job.report.",
      );
    }
    if (!existsSync(run.report)) return undefined;
    const previous = readJson(run.report, "the previous run's report") as { profile?: DataProfile | null };
    return previous.profile ?? undefined;
  }
  if (reference.endsWith(".profile.json"))
    return profileOf(readJson(reference, "the drift reference"), reference);
  const names = columns.map((c) => c.name);
  return profileDataset(db, reference, names, { partial: true, key: "job.drift.reference" });
}

/**
 * A dataset's own profile (Parquet, CSV or JSON Lines, as DuckDB reads the path), over the named columns.
 *
 * @param options - `partial`: profile those of the columns the dataset has (else a missing one is an
 * error); `key`: the setting that names the dataset, for messages
 * @throws MlbatchError `E_READ` when the dataset cannot be read; `E_SCHEMA` for a missing column
 */
export async function profileDataset(
  db: Database,
  path: string,
  names: readonly string[],
  options: { readonly partial: boolean; readonly key: string },
): Promise<DataProfile> {
  if (!existsSync(path) && !/[*?[]/.test(path)) {
    throw new MlbatchError(
      "E_READ",
      `cannot read the dataset "${path}": no such file. Fix ${options.key} (a Parquet, CSV or JSON Lines path).`,
    );
  }
  const table = `(SELECT * FROM ${quotedString(path)})`;
  const described = await db.rows(`DESCRIBE SELECT * FROM ${table}`).catch((error: unknown) => {
    throw new MlbatchError(
      "E_READ",
      `cannot read the dataset "${path}": ${messageOf(error)}. Fix ${options.key}.`,
      {
        cause: error,
      },
    );
  });
  const types = new Map(described.map((row) => [String(row.column_name), String(row.column_type)]));
  const missing = names.filter((name) => !types.has(name));
  if (!options.partial && missing.length > 0) {
    throw new MlbatchError(
      "E_SCHEMA",
      `the dataset "${path}" has no column ${missing.map((m) => `"${m}"`).join(", ")} of the model's inputs ` +
        `(its columns: ${[...types.keys()].join(", ")}). Profile the data the model was trained on.`,
    );
  }
  const columns = names.filter((name) => types.has(name)).map((name) => ({ name, type: types.get(name)! }));
  return profileTable(db, { table, label: path, columns });
}

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch (error) {
    throw new MlbatchError("E_READ", `cannot read ${what} "${path}": ${messageOf(error)}.`, { cause: error });
  }
}

/** A profile file's profile, checked to be one. */
export function profileOf(value: unknown, path: string): DataProfile {
  const profile = value as Partial<DataProfile> | null;
  if (profile?.mlbatch_profile !== 1 || typeof profile.columns !== "object") {
    throw new MlbatchError(
      "E_READ",
      `"${path}" is no mlbatch profile (mlbatch_profile: 1 and columns expected): write one with mlbatch profile.`,
    );
  }
  return profile as DataProfile;
}

/** The warning (or failure) text of a drift: the drifted columns with their PSI. */
export function driftText(drift: DriftReport): string {
  const columns = drift.drifted.map((name) => `${name} (PSI ${drift.columns[name]!.psi.toFixed(2)})`);
  return `inputs drifted from ${drift.reference} in ${columns.length} column(s): ${columns.join(", ")}`;
}
