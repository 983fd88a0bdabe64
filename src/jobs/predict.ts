import type { Batch } from "../data/batch.js";
import type { Database } from "../data/database.js";
import { PredictionTable } from "../data/predictions.js";
import type { Source } from "../data/source.js";
import type { Model } from "../models/model.js";
import type { Logger } from "../services/logger.js";
import { Progress } from "./progress.js";

/**
 * Predicts every row of the source into a new DuckDB table (`mlbatch_predictions`), in input order, with
 * progress. The caller checks that it holds one prediction per row (the outputs pair them by position).
 *
 * @param options - the batch size, the logger for progress, and the rows expected (for the ETA)
 * @throws MlbatchError `E_READ` or `E_PREDICT`
 */
export async function predictTable(
  db: Database,
  source: Source,
  model: Model,
  options: {
    readonly batchSize: number;
    readonly logger: Logger;
    readonly total: number;
    /** Aborted: stop before the next batch, throwing the signal's reason. */
    readonly signal?: AbortSignal | undefined;
  },
): Promise<PredictionTable> {
  const table = await PredictionTable.create(db, "mlbatch_predictions", model.outputs);
  const progress = new Progress({ total: options.total, logger: options.logger });
  try {
    await predictAll(source, model, table, options.batchSize, (rows) => {
      progress.advance(rows);
      if (options.signal?.aborted) throw options.signal.reason;
    });
  } finally {
    progress.done();
    table.close();
  }
  const memory = {
    rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  options.logger.debug({ rows: table.rowCount, ...memory }, "[Inference] Predicted");
  return table;
}

/**
 * Streams the source through the model into the prediction table, in input order. The next batch is read
 * (DuckDB, on the main thread) while the current one is predicted (ONNX Runtime, in its worker thread),
 * so reading costs no wall time when the model is the slower side. At most two batches are in flight.
 *
 * @param onRows - called with each batch's row count once its predictions are stored
 */
export async function predictAll(
  source: Source,
  model: Model,
  table: PredictionTable,
  batchSize: number,
  onRows: (rows: number) => void,
): Promise<void> {
  const batches = source.batches(model.inputs, batchSize);
  let next = batches.next();
  // Two batches in flight: the model may start on one (e.g. the nodes before a tree ensemble) while it
  // finishes the other. Results are appended in order.
  const pending: Promise<Batch>[] = [];
  const appendOldest = async () => {
    const predicted = await pending.shift()!;
    table.append(predicted);
    onRows(predicted.length);
  };
  try {
    for (;;) {
      const { done, value: batch } = await next;
      if (done) break;
      // predict() copies the batch before it returns, so the reader may refill its buffers at once.
      // A promise not awaited yet must not reject unhandled (Node would exit): awaiting it still throws.
      const predicted = model.predict(batch);
      predicted.catch(() => undefined);
      pending.push(predicted);
      next = batches.next();
      next.catch(() => undefined);
      if (pending.length >= 2) await appendOldest();
    }
    while (pending.length > 0) await appendOldest();
  } catch (error) {
    next.catch(() => undefined);
    for (const predicted of pending) predicted.catch(() => undefined);
    throw error;
  } finally {
    await batches.return(undefined).catch(() => undefined);
  }
}
