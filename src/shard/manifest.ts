/** The vocabulary of a sharded commit: the manifest, the outcome of a commit, the status of a part. */
import type { Database } from "../data/database.js";
import { quotedString } from "../data/sql.js";
import { MlbatchError } from "../errors.js";
import type { Plan } from "./plan.js";

/** The manifest of a committed output (`_SUCCESS`): what was predicted, by which model, from what. */
export interface Manifest {
  readonly format: "mlbatch-manifest/1";
  readonly plan_id: string;
  readonly committed_at: string;
  readonly config_hash: string;
  readonly model: Plan["model"];
  readonly inputs: Plan["inputs"];
  readonly id_columns: readonly string[];
  /** The outputs' columns, as in every part. */
  readonly columns: readonly string[];
  /** The parts in unit order: reading them in this order gives the outputs in input order. */
  readonly parts: readonly {
    readonly unit: string;
    readonly file: string;
    readonly rows: number;
    readonly dropped: number;
    readonly bytes: number;
    readonly sha256: string;
  }[];
  /** read = written + dropped, over all units. */
  readonly rows: { readonly read: number; readonly written: number; readonly dropped: number };
}

/** What a commit found: committed (by this call or before), or the units still without a valid part. */
export type CommitOutcome =
  | { readonly status: "committed"; readonly manifest: Manifest; readonly byThisCall: boolean }
  | { readonly status: "incomplete"; readonly missing: readonly Plan["units"][number][] };

/** What a part's footer says, when it is valid for its unit. */
export interface PartStatus {
  readonly valid: boolean;
  /** Rows in the part. */
  readonly rows: number;
  /** Rows of the unit dropped as invalid (`on_invalid: drop`). */
  readonly dropped: number;
  /** Why it is not valid. */
  readonly reason?: string;
}

/** The unit a part is expected to hold. */
export interface PartExpectation {
  readonly planId: string;
  readonly unit: string;
  /** The unit's input rows: rows in the part + rows dropped. */
  readonly rows: number;
}

/**
 * The manifest of a plan's complete parts, its columns those of the first part (a local file): rows read
 * = written + dropped, or it is a bug.
 *
 * @throws MlbatchError `E_INTERNAL` when the counts do not reconcile
 */
export async function freshManifest(
  db: Database,
  plan: Plan,
  parts: Manifest["parts"][number][],
  firstPart: string | undefined,
): Promise<Manifest> {
  const written = parts.reduce((sum, p) => sum + p.rows, 0);
  const dropped = parts.reduce((sum, p) => sum + p.dropped, 0);
  if (written + dropped !== plan.rows) {
    throw new MlbatchError(
      "E_INTERNAL",
      `row counts do not reconcile: the plan has ${plan.rows} rows, the parts ${written} written + ${dropped} dropped`,
    );
  }
  const columns =
    firstPart === undefined
      ? []
      : await db.rows(`DESCRIBE SELECT * FROM read_parquet(${quotedString(firstPart)})`);
  return {
    format: "mlbatch-manifest/1",
    plan_id: plan.plan_id,
    committed_at: new Date().toISOString(),
    config_hash: plan.config_hash,
    model: plan.model,
    inputs: plan.inputs,
    id_columns: plan.id_columns,
    columns: columns.map((row) => String(row.column_name)),
    parts,
    rows: { read: plan.rows, written, dropped },
  };
}
