/**
 * Predicting as a job step: the checked inputs streamed through the model, batch by batch, and the
 * outputs' rows written as the predictions come (data/output-rows.ts), with progress.
 */
import type { Batch } from "../data/batch.js";
import type { CarriedRows } from "../data/carried.js";
import type { Database } from "../data/database.js";
import { OutputRows } from "../data/output-rows.js";
import type { Source } from "../data/source.js";
import type { RowSink } from "../data/writers/writer.js";
import { DEFAULT_BATCH_SIZE, type Model } from "../models/model.js";
import type { StepContext } from "./context.js";
import { Progress } from "./progress.js";

/** DuckDB's threads while the model predicts: reading and writing the batches needs one. */
const PREDICT_DUCKDB_THREADS = 1;

/** What {@link predictInto} predicts, and what the outputs carry beside the predictions. */
export interface PredictRun {
  /** The rows to predict (validated; invalid rows filtered out in SQL). */
  readonly source: Source;
  readonly model: Model;
  /** Absent: the model's own (its engine's), else {@link DEFAULT_BATCH_SIZE}. */
  readonly batchSize: number | undefined;
  /** Rows expected, for the ETA. */
  readonly total: number;
  /** Input columns copied first into the outputs: ids, then passthrough. */
  readonly carried: readonly string[];
  /** The model version column, when asked. */
  readonly constant?: { readonly name: string; readonly value: string } | undefined;
  /** Sees every batch of predictions, in input order, before it is written (the Challenger's comparison). */
  readonly observe?: ((predictions: Batch) => void) | undefined;
  /**
   * Called with the rows predicted once every batch is, before the last rows are written: to reconcile
   * the counts (it throws when they do not) and log the write.
   */
  readonly predicted: (rows: number) => void;
}

/**
 * Predicts every row of the source (step predict) into the sink, in input order: the outputs' rows,
 * carried columns beside the predictions, are handed to the sink as they come (step write, while the next
 * batches are predicted).
 *
 * @param db - the job's database; the inputs stream on its connection, the outputs' rows on forks of it
 * @param sink - where the rows go: it must write on a connection of its own
 * @returns the rows written
 * @throws MlbatchError `E_READ` or `E_PREDICT` (step predict), the sink's errors (step write)
 */
export async function predictInto(
  ctx: StepContext,
  db: Database,
  sink: RowSink,
  run: PredictRun,
): Promise<number> {
  const { source, model } = run;
  const written: RowSink = { append: (query) => ctx.step("write", () => sink.append(query)) };
  const rows = await OutputRows.create(db, {
    source,
    carried: run.carried,
    outputs: model.outputs,
    constant: run.constant,
    sink: written,
  });
  try {
    const progress = new Progress({ total: run.total, logger: ctx.logger });
    await ctx.step("predict", async () => {
      try {
        const onRows = (count: number) => {
          progress.advance(count);
          if (ctx.signal?.aborted) throw ctx.signal.reason;
        };
        const { observe } = run;
        const output: PredictionSink =
          observe === undefined
            ? rows
            : {
                append: (predictions, carried) => {
                  observe(predictions);
                  return rows.append(predictions, carried);
                },
              };
        const options = { batchSize: run.batchSize, carried: run.carried, onRows };
        await db.withThreads(PREDICT_DUCKDB_THREADS, () => predictAll(source, model, output, options));
      } finally {
        progress.done();
      }
    });
    const memory = {
      rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    ctx.logger.debug({ rows: rows.rowCount, ...memory }, "[Inference] Predicted");
    run.predicted(rows.rowCount);
    return await ctx.step("write", () => rows.finish());
  } finally {
    await rows.close();
  }
}

/** Where predicted batches go, in input order, with the rows of the columns the outputs carry. */
export interface PredictionSink {
  append(predictions: Batch, carried: CarriedRows | undefined): void | Promise<void>;
}

/** How {@link predictAll} streams. */
export interface PredictAllOptions {
  /** Absent: the model's own (its engine's), else {@link DEFAULT_BATCH_SIZE}. */
  readonly batchSize: number | undefined;
  /** Input columns read with the features and handed to `output` with each batch's predictions. */
  readonly carried?: readonly string[] | undefined;
  /** Called with each batch's row count once its predictions are stored. */
  readonly onRows: (rows: number) => void;
}

/**
 * Streams the source through the model into `output`, in input order. The next batch is read (DuckDB,
 * on the main thread) while the current one is predicted (ONNX Runtime or the tree engine, in their
 * worker threads), so reading costs no wall time when the model is the slower side; `output` (writing
 * the outputs' rows) runs while both go on. At most two batches are in flight.
 */
export async function predictAll(
  source: Source,
  model: Model,
  output: PredictionSink,
  options: PredictAllOptions,
): Promise<void> {
  const batchSize = options.batchSize ?? model.batchSize ?? DEFAULT_BATCH_SIZE;
  const batches = source.batches(model.inputs, batchSize, options.carried);
  let next = batches.next();
  // Two batches in flight: the model may start on one (e.g. the nodes before a tree ensemble) while it
  // finishes the other. Results are appended in order.
  const pending: { readonly predicted: Promise<Batch>; readonly carried: CarriedRows | undefined }[] = [];
  const appendOldest = async () => {
    const { predicted, carried } = pending.shift()!;
    const batch = await predicted;
    await output.append(batch, carried);
    options.onRows(batch.length);
  };
  try {
    for (;;) {
      const { done, value: batch } = await next;
      if (done) break;
      // predict() copies the batch before it returns, so the reader may refill its buffers at once (the
      // carried rows are the batch's own). The model is given the features only.
      // A promise not awaited yet must not reject unhandled (Node would exit): awaiting it still throws.
      const predicted = model.predict({ length: batch.length, columns: batch.columns });
      predicted.catch(() => undefined);
      pending.push({ predicted, carried: batch.carried });
      next = batches.next();
      next.catch(() => undefined);
      if (pending.length >= 2) await appendOldest();
    }
    while (pending.length > 0) await appendOldest();
  } catch (error) {
    next.catch(() => undefined);
    for (const { predicted } of pending) predicted.catch(() => undefined);
    throw error;
  } finally {
    await batches.return(undefined).catch(() => undefined);
  }
}
