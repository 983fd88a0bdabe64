/**
 * A shard's work: each of its units that has no valid part yet is read, validated, predicted and written
 * as its part, with the same steps as a single run (steps/, predict.ts), the model loaded once: the
 * version the plan pinned, never the alias (it may have moved since the plan).
 */
import type { Database } from "../../data/database.js";
import type { RowSink } from "../../data/writers/writer.js";
import { MlbatchError } from "../../errors.js";
import type { MLmodel } from "../../models/mlmodel.js";
import type { FeatureSpec, Model } from "../../models/model.js";
import { committedManifest, type Manifest } from "../../shard/commit.js";
import { checkPart, writePart } from "../../shard/parts.js";
import type { Plan } from "../../shard/plan.js";
import { inputUnit } from "../../shard/units.js";
import { atStep } from "../context.js";
import { type PredictRun, predictInto } from "../predict.js";
import { validateStep } from "../steps/check.js";
import { modelTable, type OpenedInputs } from "../steps/inputs.js";
import { loadModel, readModel } from "../steps/model.js";
import { outputColumns } from "../steps/outputs.js";
import { reconcile } from "../steps/write.js";
import type { CheckedInputs } from "../validation/policy.js";
import type { ShardRun } from "./shard-run.js";

type Unit = Plan["units"][number];

/** What a shard did with its units. */
export interface UnitsDone {
  readonly units: { readonly assigned: string[]; readonly written: string[]; readonly skipped: string[] };
  /** Rows of the units this shard wrote. */
  readonly rows: { read: number; written: number; dropped: number };
  /** The manifest, when a twin shard committed while this one worked (it then stopped). */
  readonly committed?: Manifest | undefined;
}

/** The pinned model, loaded, and what it is fed. */
interface Loaded {
  readonly model: Model;
  readonly mlmodel: MLmodel;
  /** The pinned version's URI, `models:/<name>/<version>`. */
  readonly uri: string;
  /** The signature's columns, else what the model reads. */
  readonly features: readonly FeatureSpec[];
}

/**
 * Predicts the units that have no valid part yet, each into its part; stops when another shard
 * committed (a twin with the same index may have moved the staging folder away).
 */
export async function predictUnits(run: ShardRun, plan: Plan, units: readonly Unit[]): Promise<UnitsDone> {
  const todo = await run.withDatabase(async (db) => {
    const left: Unit[] = [];
    for (const unit of units) {
      const expected = { planId: plan.plan_id, unit: unit.id, rows: unit.rows };
      if (!(await checkPart(db, run.layout.part(unit.id, plan.plan_id), expected)).valid) left.push(unit);
    }
    return left;
  });
  const skipped = units.filter((unit) => !todo.includes(unit)).map((unit) => unit.id);
  if (skipped.length > 0)
    run.ctx.logger.info(`[Inference] Resume: ${skipped.length} units already have valid parts`);
  const done: UnitsDone = {
    units: { assigned: units.map((unit) => unit.id), written: [], skipped },
    rows: { read: 0, written: 0, dropped: 0 },
  };
  const first = todo[0];
  if (first === undefined) return done;
  const loaded = await loadPinned(run, plan, first);
  try {
    for (const unit of todo) {
      const part = await predictUnit(run, plan, unit, loaded).catch(async (error: unknown) => {
        const manifest = await committedManifest(run.layout, plan.plan_id);
        if (manifest === undefined) throw error;
        return manifest;
      });
      if ("plan_id" in part) {
        run.ctx.logger.info(`[Inference] Another shard committed ${run.layout.output}: stopping`);
        return { ...done, committed: part };
      }
      done.units.written.push(unit.id);
      done.rows.read += unit.rows;
      done.rows.written += part.rows;
      done.rows.dropped += part.dropped;
    }
  } finally {
    await loaded.model.close();
  }
  run.ctx.facts.rows = { read: done.rows.read, written: done.rows.written, rejected: done.rows.dropped };
  return done;
}

/** Loads the planned version, fed (without a column signature) the columns of the unit's inputs. */
async function loadPinned(run: ShardRun, plan: Plan, unit: Unit): Promise<Loaded> {
  const { ctx, mlflow, settings } = run;
  const { name, version, asked } = plan.model;
  const pinned = await ctx.step("load", () => mlflow.registry.getModelVersion({ name, version }));
  const resolved = await readModel(ctx, mlflow, pinned);
  const table = await run.withDatabase(async (db) => {
    const inputs = await openUnit(run, db, plan, unit);
    return (await modelTable(ctx, inputs, resolved.mlmodel)).table;
  });
  const model = await loadModel(ctx, settings.loader, resolved, table, `planned for ${asked}`);
  try {
    await ctx.step("validate", async () => outputColumns(plan.id_columns, settings, model), null);
  } catch (error) {
    await model.close();
    throw error;
  }
  const features = resolved.signed ?? model.inputs;
  return { model, mlmodel: resolved.mlmodel, uri: pinned.uri, features };
}

/** A unit's rows opened as the whole input's columns (step read), with the plan's id columns. */
async function openUnit(run: ShardRun, db: Database, plan: Plan, unit: Unit): Promise<OpenedInputs> {
  const source = await run.ctx.step("read", () =>
    run.settings.inputs.openUnit(db, inputUnit(unit, plan.inputs.files), plan.inputs.folder),
  );
  return { source, idColumns: plan.id_columns };
}

/** Reads, validates and predicts one unit into its part, placed unless a twin placed a valid one first. */
async function predictUnit(
  run: ShardRun,
  plan: Plan,
  unit: Unit,
  loaded: Loaded,
): Promise<{ rows: number; dropped: number }> {
  const { ctx, settings } = run;
  return run.withDatabase(async (db) => {
    const opened = await openUnit(run, db, plan, unit);
    const { source } = await modelTable(ctx, opened, loaded.mlmodel);
    const inputs = { ...opened, source };
    const policy = settings.validation;
    const checked = await validateStep(ctx, db, {
      inputs,
      features: loaded.features,
      uri: loaded.uri,
      policy,
    });
    if (checked.report.rows.total !== unit.rows) {
      const file = inputUnit(unit, plan.inputs.files).file;
      throw new MlbatchError(
        "E_READ",
        `unit ${unit.id} of "${file}" has ${checked.report.rows.total} rows, the plan says ${unit.rows}: the input ` +
          'changed since the plan; plan again with "mlbatch plan <config>" and outputs.mode: overwrite.',
      );
    }
    return writeUnit(run, db, plan, unit, { loaded, checked });
  });
}

/** Predicts a checked unit into its part file (through the job's writer, as the rows come) and places it. */
async function writeUnit(
  run: ShardRun,
  db: Database,
  plan: Plan,
  unit: Unit,
  { loaded, checked }: { readonly loaded: Loaded; readonly checked: CheckedInputs },
): Promise<{ rows: number; dropped: number }> {
  const { ctx, settings, layout } = run;
  const { rejected } = checked;
  const column = settings.modelVersionColumn;
  const predict: PredictRun = {
    source: checked.source,
    model: loaded.model,
    batchSize: settings.batchSize,
    total: unit.rows - rejected,
    carried: [...plan.id_columns, ...settings.passthrough],
    constant: column === undefined ? undefined : { name: column, value: loaded.uri },
    predicted: (predicted) => reconcile(unit.rows, predicted, rejected, "dropped"),
  };
  const part = layout.part(unit.id, plan.plan_id);
  const writes = await db.fork();
  try {
    const stamp = { planId: plan.plan_id, unit: unit.id, rows: unit.rows, dropped: rejected };
    const target = { path: part, temp: layout.temp(`part-${unit.id}.parquet`) };
    const produce = async (sink: RowSink) => void (await predictInto(ctx, db, sink, predict));
    const { rows, placed } = await writePart(writes, settings.outputs, produce, target, stamp).catch(
      (error: unknown) => {
        throw atStep("write", error);
      },
    );
    ctx.logger.info(
      `[Inference] Unit ${unit.id}: ${rows} rows ${placed ? "written" : "already written by a twin"} to ${part}`,
    );
    return { rows, dropped: rejected };
  } finally {
    writes.close();
  }
}
