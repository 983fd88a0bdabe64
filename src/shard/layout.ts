import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

/**
 * Where a sharded run's files are. Shards work in a hidden staging folder beside the output
 * (`.<name>.shards/`: `_plan.json`, `part-<unit>.parquet`, then `_SUCCESS`); the commit renames that
 * folder to the output path in one step, so readers of the output see none of it or all of it.
 *
 * @example
 * ```ts
 * const layout = new ShardLayout("outputs/predictions");
 * layout.part("00003"); // outputs/.predictions.shards/part-00003.parquet
 * ```
 */
export class ShardLayout {
  /** The staging folder the shards write into. */
  readonly staging: string;

  /** @param output - the job's `outputs.path`: the committed folder */
  constructor(readonly output: string) {
    this.staging = join(dirname(output), `.${basename(output)}.shards`);
  }

  /** The plan in the staging folder. */
  get plan(): string {
    return join(this.staging, PLAN);
  }

  /** The manifest in the staging folder (written by the commit, just before the rename). */
  get stagedManifest(): string {
    return join(this.staging, SUCCESS);
  }

  /** The manifest of the committed output. */
  get manifest(): string {
    return join(this.output, SUCCESS);
  }

  /** A unit's part file name. */
  static partName(unit: string): string {
    return `part-${unit}.parquet`;
  }

  /** A unit's part file in the staging folder. */
  part(unit: string): string {
    return join(this.staging, ShardLayout.partName(unit));
  }

  /** A new temporary name in the staging folder (hidden: readers of the folder skip it). */
  temp(name: string): string {
    return join(this.staging, `${TEMP_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}-${name}`);
  }
}

/** The name of the plan file. */
export const PLAN = "_plan.json";
/** The name of the manifest, Spark's commit marker. */
export const SUCCESS = "_SUCCESS";
/** Temporary files start with this. */
export const TEMP_PREFIX = ".tmp-";
