/** The vocabulary of a sharded commit: the manifest, the outcome of a commit, the status of a part. */
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
