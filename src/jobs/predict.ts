import type { Database } from "../data/database.js";
import { PredictionTable } from "../data/predictions.js";
import type { Source } from "../data/source.js";
import { MlbatchError } from "../errors.js";
import type { Model } from "../models/model.js";
import type { Logger } from "../services/logger.js";
import { Progress } from "./progress.js";

/**
 * Predicts every row of the source into a new DuckDB table (`mlbatch_predictions`), with progress, and
 * checks that it holds one prediction per input row: the outputs pair them by position.
 *
 * @throws MlbatchError `E_PREDICT` when the model fails, or when the counts differ
 */
export async function predictTable(
  db: Database,
  source: Source,
  model: Model,
  options: { readonly batchSize: number; readonly logger: Logger },
): Promise<PredictionTable> {
  const table = await PredictionTable.create(db, "mlbatch_predictions", model.outputs);
  const [count] = await db.rows(`SELECT count(*)::BIGINT AS n FROM ${source.query()}`);
  const total = Number(count?.n ?? 0);
  const progress = new Progress({ total, logger: options.logger });
  try {
    await predictAll(source, model, table, options.batchSize, (rows) => progress.advance(rows));
  } finally {
    progress.done();
    table.close();
  }
  if (table.rowCount !== total) {
    throw new MlbatchError(
      "E_PREDICT",
      `predicted ${table.rowCount} rows but inputs "${source.label}" have ${total} rows; nothing was written`,
    );
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
  try {
    for (;;) {
      const { done, value: batch } = await next;
      if (done) break;
      // predict() copies the batch before it returns, so the reader may refill its buffers at once.
      const predicted = model.predict(batch);
      next = batches.next();
      table.append(await predicted);
      onRows(batch.length);
    }
  } catch (error) {
    next.catch(() => undefined);
    throw error;
  } finally {
    await batches.return(undefined).catch(() => undefined);
  }
}
