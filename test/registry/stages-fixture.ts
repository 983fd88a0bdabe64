/** The stores of test/fixtures/stages (see make_stages.py) and what MLflow resolved their URIs to. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers.js";

export const STAGES_DIR = join(ROOT, "test", "fixtures", "stages");
/** The four stores with stages: MLflow 2.x and 3.x, SQLite and file store. */
export const STAGE_STORES = {
  "mlflow2-sqlite": `sqlite:///${join(STAGES_DIR, "mlflow2-sqlite", "mlflow.db")}`,
  "mlflow2-file": join(STAGES_DIR, "mlflow2-file", "mlruns"),
  "mlflow3-sqlite": `sqlite:///${join(STAGES_DIR, "mlflow3-sqlite", "mlflow.db")}`,
  "mlflow3-file": join(STAGES_DIR, "mlflow3-file", "mlruns"),
} as const;
export type StageStore = keyof typeof STAGE_STORES;

/** What MLflow resolved each URI of a store to (expected.json, written by make_stages.py). */
export interface Verdict {
  readonly uri: string;
  readonly version: number | null;
  /** The column of expected_predictions.parquet that MLflow's model for this URI predicts. */
  readonly model: "bikes_v1" | "bikes_v2";
}
export const VERDICTS = JSON.parse(readFileSync(join(STAGES_DIR, "expected.json"), "utf8")) as Record<
  StageStore,
  { readonly mlflow: string; readonly uris: readonly Verdict[] }
>;
