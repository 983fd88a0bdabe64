import type { PredictionTable } from "../data/predictions.js";
import type { Source } from "../data/source.js";
import type { Model } from "../models/model.js";

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
