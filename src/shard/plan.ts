/**
 * The plan of a sharded run: what every shard must agree on, pinned once. The model version the alias
 * resolved to (an alias may move while shards run), the input files with their digests, the work units,
 * the id columns, and the hash of the config.
 */
import { readFile } from "node:fs/promises";
import * as z from "zod";
import { ObjectStore } from "../data/object-store/object-store.js";
import { isObjectUri } from "../data/object-store/uri.js";
import { MlbatchError, messageOf } from "../errors.js";
import { configHash } from "../report/config-hash.js";
import type { DataProfile, DriftReport } from "../report/sections.js";
import { fileDigest } from "./units.js";

/** The plan file (`_plan.json`), as written and read back. */
export const Plan = z.strictObject({
  format: z.literal("mlbatch-plan/1"),
  /**
   * `job.drift`: the whole input's profile and drift, found once when the plan is made (outside the plan's
   * id: a result, not a choice); the committing shard reports them.
   */
  drift: z
    .custom<PlanDrift>((value) => typeof value === "object" && value !== null && "profile" in value)
    .optional(),
  /** SHA-256 of everything below but `created_at`: equal plans, equal ids. */
  plan_id: z.string(),
  created_at: z.string(),
  /** {@link planConfigHash} of the job's config. */
  config_hash: z.string(),
  model: z.strictObject({
    /** What the config asks for, e.g. `models:/bikes@Champion`. */
    asked: z.string(),
    name: z.string(),
    version: z.int(),
    run_id: z.string().nullable(),
    source: z.string(),
  }),
  inputs: z.strictObject({
    path: z.string(),
    /** The path is a folder (hive partitions are read as columns). */
    folder: z.boolean(),
    files: z.array(z.strictObject({ path: z.string(), bytes: z.int(), digest: z.string() })),
  }),
  id_columns: z.array(z.string()),
  units: z.array(
    z.strictObject({
      id: z.string(),
      file: z.int(),
      row_group: z.int().nullable(),
      first_row: z.int(),
      rows: z.int(),
    }),
  ),
  rows: z.int(),
});
export type Plan = z.infer<typeof Plan>;

/** What a plan records of `job.drift`. */
export interface PlanDrift {
  readonly profile: DataProfile;
  /** Null when there was nothing to compare with (`previous` without a previous report). */
  readonly report: DriftReport | null;
  /** The warning the drift (or its absence) gave. */
  readonly warning: string | null;
}

/**
 * The hash of what decides a sharded run's outputs: the job's config without `shard` (it differs between
 * shards), `report`, `logger_service` and `alerts_service` (they may differ too, e.g. a report path per
 * shard, and do not change the outputs).
 *
 * @example
 * ```ts
 * planConfigHash({ ...config, shard: { index: 1 } }) === planConfigHash({ ...config, shard: { index: 2 } }); // true
 * ```
 */
export function planConfigHash(config: Readonly<Record<string, unknown>>): string {
  return configHash({
    ...config,
    shard: undefined,
    report: undefined,
    logger_service: undefined,
    alerts_service: undefined,
  });
}

/** Completes a plan with its id (over everything but the creation time) and the time. */
export function sealPlan(plan: Omit<Plan, "plan_id" | "created_at" | "format" | "drift">): Plan {
  const body = { format: "mlbatch-plan/1" as const, ...plan };
  return { ...body, plan_id: configHash(body), created_at: new Date().toISOString() };
}

/**
 * Reads a plan file, or undefined when there is none.
 *
 * @throws MlbatchError `E_CONFIG` when the file is not a plan of this version of mlbatch
 */
export async function readPlan(path: string): Promise<Plan | undefined> {
  let text: string;
  try {
    if (isObjectUri(path)) {
      const found = await ObjectStore.fromEnvironment().getText(path);
      if (found === undefined) return undefined;
      text = found.text;
    } else text = await readFile(path, "utf8");
  } catch (error) {
    if (error instanceof MlbatchError) throw error;
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MlbatchError("E_READ", `cannot read the plan "${path}": ${messageOf(error)}`, { cause: error });
  }
  const parsed = Plan.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new MlbatchError(
      "E_CONFIG",
      `"${path}" is not an mlbatch plan (${parsed.error.issues[0]?.message ?? "invalid"}): remove it and plan again.`,
    );
  }
  return parsed.data;
}

/**
 * Checks that a plan was made for this config, and that the given input files (a shard's own) are
 * unchanged since.
 *
 * @param files - indexes of the plan's files to check
 * @throws MlbatchError `E_CONFIG` when the config differs; `E_READ` when an input file changed
 */
export async function verifyPlan(
  plan: Plan,
  path: string,
  hash: string,
  files: Iterable<number>,
): Promise<void> {
  if (plan.config_hash !== hash) {
    throw new MlbatchError(
      "E_CONFIG",
      `the plan "${path}" was made for another config (hash ${plan.config_hash.slice(0, 12)}, this config ` +
        `${hash.slice(0, 12)}): every shard must run the same config. If the config changed on purpose, ` +
        `plan again with "mlbatch plan <config>" and outputs.mode: overwrite, or remove "${path}".`,
    );
  }
  for (const index of new Set(files)) {
    const file = plan.inputs.files[index];
    if (file === undefined)
      throw new MlbatchError("E_CONFIG", `the plan "${path}" is inconsistent: remove it.`);
    const now = await fileDigest(file.path);
    if (now.digest !== file.digest || now.bytes !== file.bytes) {
      throw new MlbatchError(
        "E_READ",
        `input file "${file.path}" changed since the plan "${path}" was made (${file.bytes} bytes ` +
          `${file.digest.slice(0, 20)}..., now ${now.bytes} bytes ${now.digest.slice(0, 20)}...): restore it, or ` +
          `plan again with "mlbatch plan <config>" and outputs.mode: overwrite (the finished parts are then redone).`,
      );
    }
  }
}
