/**
 * Which copy of an array job this process is: `--shard i/n`, `job.shard`, or the index and count the
 * engine puts in the environment (Kubernetes Indexed Jobs, AWS Batch, Cloud Run jobs, Slurm arrays).
 */
import * as z from "zod";
import { MlbatchError } from "../errors.js";

/** Config of `job.shard`: run one shard of the job (output `path` is then a folder of part files). */
export const ShardConfig = z
  .strictObject({
    index: z
      .int()
      .nonnegative()
      .optional()
      .describe(
        "This copy's index, from 0. Default: MLBATCH_SHARD_INDEX, JOB_COMPLETION_INDEX, " +
          "AWS_BATCH_JOB_ARRAY_INDEX, CLOUD_RUN_TASK_INDEX, or SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN.",
      ),
    count: z
      .int()
      .positive()
      .optional()
      .describe(
        "How many copies run. Default: MLBATCH_SHARD_COUNT, CLOUD_RUN_TASK_COUNT or SLURM_ARRAY_TASK_COUNT.",
      ),
  })
  .describe("Run one shard of a sharded job (a copy of an array job); see the guide's 'Sharded runs'.");
export type ShardConfig = z.infer<typeof ShardConfig>;

/** One copy of an array job: `index` in `0 .. count - 1`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Environment variables holding a copy's index, in the order they are looked up. */
const INDEX_VARIABLES = [
  "MLBATCH_SHARD_INDEX",
  "JOB_COMPLETION_INDEX",
  "AWS_BATCH_JOB_ARRAY_INDEX",
  "CLOUD_RUN_TASK_INDEX",
  "SLURM_ARRAY_TASK_ID",
] as const;
/** Environment variables holding the number of copies (Kubernetes and AWS Batch have none: set ours). */
const COUNT_VARIABLES = ["MLBATCH_SHARD_COUNT", "CLOUD_RUN_TASK_COUNT", "SLURM_ARRAY_TASK_COUNT"] as const;

/**
 * Parses the `--shard` flag: `<index>/<count>`, e.g. `2/4` (index from 0).
 *
 * @throws MlbatchError `E_USAGE` for any other form, or an index not below the count
 * @example
 * ```ts
 * parseShardFlag("2/4"); // { index: 2, count: 4 }
 * ```
 */
export function parseShardFlag(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const shard = match === null ? undefined : { index: Number(match[1]), count: Number(match[2]) };
  if (shard === undefined || shard.count < 1 || shard.index >= shard.count) {
    throw new MlbatchError(
      "E_USAGE",
      `invalid --shard "${text}": expected <index>/<count> with 0 <= index < count, e.g. --shard 0/4`,
    );
  }
  return shard;
}

/**
 * The shard this process runs, or undefined for an ordinary (unsharded) run: `job.shard` fields first,
 * then the environment. A count alone, or an index alone, is an error: running the whole job in every
 * copy of an array job would do the work N times.
 *
 * @param config - `job.shard`, if set
 * @param env - the environment (`process.env`)
 * @throws MlbatchError `E_CONFIG` when the index or the count is missing, or the index is not below the count
 * @example
 * ```ts
 * resolveShard(undefined, { JOB_COMPLETION_INDEX: "3", MLBATCH_SHARD_COUNT: "8" }); // { index: 3, count: 8 }
 * ```
 */
export function resolveShard(
  config: ShardConfig | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Shard | undefined {
  const index =
    config?.index === undefined
      ? fromEnvironment(env, INDEX_VARIABLES)
      : { name: "job.shard.index", value: config.index };
  const count =
    config?.count === undefined
      ? fromEnvironment(env, COUNT_VARIABLES)
      : { name: "job.shard.count", value: config.count };
  if (index === undefined && count === undefined && config === undefined) return undefined;
  if (count === undefined) {
    throw new MlbatchError(
      "E_CONFIG",
      `a shard index is set (${index?.name}=${index?.value}) but not how many shards run: set MLBATCH_SHARD_COUNT or ` +
        "job.shard.count, or pass --shard <index>/<count>.",
    );
  }
  if (index === undefined) {
    throw new MlbatchError(
      "E_CONFIG",
      `a shard count is set (${count.value}) but not this copy's index: set job.shard.index, ` +
        `one of ${INDEX_VARIABLES.join(", ")}, or pass --shard <index>/<count>.`,
    );
  }
  if (index.value >= count.value) {
    throw new MlbatchError(
      "E_CONFIG",
      `shard index ${index.value} (${index.name}) is not below the shard count ${count.value} (${count.name}); ` +
        "indexes run from 0 to count - 1.",
    );
  }
  return { index: index.value, count: count.value };
}

type Found = { readonly name: string; readonly value: number };

function fromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  names: readonly string[],
): Found | undefined {
  for (const name of names) {
    const text = env[name];
    if (text === undefined || text === "") continue;
    if (!/^\d+$/.test(text)) {
      throw new MlbatchError("E_CONFIG", `environment variable ${name}="${text}" is not a whole number.`);
    }
    let value = Number(text);
    if (name === "SLURM_ARRAY_TASK_ID") value = slurmIndex(value, env);
    return { name, value };
  }
  return undefined;
}

/**
 * A Slurm task's shard index: arrays may start at any number (--array=1-8), so count from the first; the
 * ids must be contiguous, or a step (--array=0-14:2) or gaps (--array=0,2,5) would leave shards unrun.
 */
function slurmIndex(id: number, env: Readonly<Record<string, string | undefined>>): number {
  const min = Number(env.SLURM_ARRAY_TASK_MIN ?? 0);
  const { SLURM_ARRAY_TASK_MAX: max, SLURM_ARRAY_TASK_COUNT: count } = env;
  if (max !== undefined && count !== undefined && Number(max) - min + 1 !== Number(count)) {
    throw new MlbatchError(
      "E_CONFIG",
      `the Slurm array's task ids are not contiguous (${count} tasks from ${min} to ${max}): mlbatch runs ` +
        `shard SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, so submit with --array=${min}-${min + Number(count) - 1} ` +
        "(a throttle such as %4 is fine; no step, no gaps).",
    );
  }
  return id - min;
}
