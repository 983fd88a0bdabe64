import * as z from "zod";
import type { Job } from "./base.js";
import { InferenceJob, InferenceJobConfig } from "./inference.js";

/** Every job KIND. */
export const JobKind = z.discriminatedUnion("KIND", [InferenceJobConfig]);
export type JobKind = z.infer<typeof JobKind>;

const FACTORIES: { [K in JobKind["KIND"]]: (config: Extract<JobKind, { KIND: K }>) => Job<unknown> } = {
  InferenceJob: (c) => InferenceJob.fromConfig(c),
};

/** Builds the job a config describes. */
export function createJob(config: JobKind): Job<unknown> {
  return (FACTORIES[config.KIND] as (c: JobKind) => Job<unknown>)(config);
}
