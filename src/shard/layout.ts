import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { isObjectUri } from "../data/object-store/uri.js";
import { MlbatchError } from "../errors.js";
import { ownedFolder } from "../scratch.js";

/**
 * Where a sharded run's files are. On a filesystem, shards work in a hidden staging folder beside the
 * output (`.<name>.shards/`: `_plan.json`, `part-<unit>.parquet`, then `_SUCCESS`); the commit renames
 * that folder to the output path in one step, so readers of the output see none of it or all of it.
 * On an object store (`s3://`), which has no renames, everything is under the output prefix: the plan
 * `_plan.json`, the parts under the plan's id (`plan-<id>/part-<unit>.parquet`), and the manifest
 * `_SUCCESS`, written last and conditionally, which is the commit (object-commit.ts).
 *
 * @example
 * ```ts
 * const layout = new ShardLayout("outputs/predictions");
 * layout.part("00003"); // outputs/.predictions.shards/part-00003.parquet
 * new ShardLayout("s3://data/sharded/").part("00003", plan.plan_id); // s3://data/sharded/plan-1f2e.../part-00003.parquet
 * ```
 */
export class ShardLayout {
  /** The staging folder the shards write into (on an object store: the output prefix itself). */
  readonly staging: string;
  /** The output is on an object store. */
  readonly remote: boolean;
  private scratch: string | undefined;

  /** @param output - the job's `outputs.path`: the committed folder */
  constructor(output: string) {
    this.remote = isObjectUri(output);
    this.output = this.remote ? output.replace(/\/+$/, "") : output;
    this.staging = this.remote ? this.output : join(dirname(output), `.${basename(output)}.shards`);
  }

  /** The committed folder (an `s3://` prefix without its trailing slash). */
  readonly output: string;

  /** The plan in the staging folder. */
  get plan(): string {
    return this.join(this.staging, PLAN);
  }

  /** The manifest in the staging folder (written by the commit, just before the rename). */
  get stagedManifest(): string {
    return this.join(this.staging, SUCCESS);
  }

  /** The manifest of the committed output. */
  get manifest(): string {
    return this.join(this.output, SUCCESS);
  }

  /** A unit's part file name. */
  static partName(unit: string): string {
    return `part-${unit}.parquet`;
  }

  /**
   * A unit's part file in the staging folder; on an object store, under the plan's id, so that a new
   * plan's parts never replace those of the committed output before its own manifest does.
   *
   * @param planId - the plan's id: needed on an object store, unused on a filesystem
   * @throws MlbatchError `E_INTERNAL` on an object store without `planId`
   */
  part(unit: string, planId?: string): string {
    const name = ShardLayout.partName(unit);
    if (!this.remote) return join(this.staging, name);
    if (planId === undefined)
      throw new MlbatchError("E_INTERNAL", `the part of unit ${unit} on ${this.output} needs its plan's id`);
    return this.join(this.output, planFolder(planId), name);
  }

  /**
   * A new temporary name in the staging folder (hidden: readers of the folder skip it); on an object
   * store, in a local scratch folder of this process (made by the caller: `mkdir(dirname(temp))`).
   */
  temp(name: string): string {
    const file = `${TEMP_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}-${name}`;
    if (!this.remote) return join(this.staging, file);
    this.scratch ??= ownedFolder(tmpdir(), UPLOAD_PREFIX);
    return join(this.scratch, file);
  }

  /** Makes the staging folder (nothing to make on an object store). */
  async prepare(): Promise<void> {
    if (!this.remote) await mkdir(this.staging, { recursive: true });
  }

  private join(...parts: string[]): string {
    return this.remote ? parts.join("/") : join(...parts);
  }
}

/** The folder of a plan's parts on an object store: `plan-` and the first 16 digits of its id. */
export function planFolder(planId: string): string {
  return `plan-${planId.slice(0, 16)}`;
}

/** The name of the plan file. */
export const PLAN = "_plan.json";
/** The name of the manifest, Spark's commit marker. */
export const SUCCESS = "_SUCCESS";
/** Temporary files start with this. */
export const TEMP_PREFIX = ".tmp-";
/** Local scratch folders of parts on their way to an object store (as the writers' uploads). */
export const UPLOAD_PREFIX = "mlbatch-upload";
