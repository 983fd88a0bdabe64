import type { Database } from "../../data/database.js";
import type { MlflowService } from "../../services/mlflow.js";
import type { ShardLayout } from "../../shard/layout.js";
import type { StepContext } from "../context.js";
import type { InferenceSettings } from "../settings.js";

/** What every step of a sharded run is given, besides the step context. */
export interface ShardRun {
  readonly ctx: StepContext;
  readonly settings: InferenceSettings;
  readonly layout: ShardLayout;
  /** `planConfigHash` of the job's config: what every shard must share. */
  readonly planHash: string;
  readonly mlflow: MlflowService;
  /** The job's run report path, an output like the others. */
  readonly report: string | undefined;
  /** Runs work with a database of its own, interrupted with the job. */
  withDatabase<T>(work: (db: Database) => Promise<T>): Promise<T>;
}
