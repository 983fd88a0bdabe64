import * as z from "zod";
import { resolveShard } from "../shard/detect.js";
import type { Job } from "./base.js";
import { InferenceJob, InferenceJobConfig } from "./inference.js";
import { ShardedInferenceJob } from "./sharded.js";

/** Every job KIND. */
export const JobKind = z.discriminatedUnion("KIND", [InferenceJobConfig]);
export type JobKind = z.infer<typeof JobKind>;

const FACTORIES: { [K in JobKind["KIND"]]: (config: Extract<JobKind, { KIND: K }>) => Job<unknown> } = {
  InferenceJob: (c) => {
    // job.shard, or an array job's index and count in the environment, make it one shard of a sharded run.
    const shard = resolveShard(c.shard, process.env);
    return shard === undefined
      ? InferenceJob.fromConfig(c)
      : ShardedInferenceJob.fromConfig(c, { kind: "shard", shard });
  },
};

/**
 * Builds the job a config describes. An InferenceJob with `job.shard`, or run as a copy of an array job
 * (index and count in the environment), is one shard of a sharded run.
 *
 * @throws MlbatchError `E_CONFIG` when a shard index or count is missing or out of range
 */
export function createJob(config: JobKind): Job<unknown> {
  return (FACTORIES[config.KIND] as (c: JobKind) => Job<unknown>)(config);
}
