import { expect } from "vitest";
import type { Batch } from "../../src/data/batch.js";
import type { Database } from "../../src/data/database.js";
import { Source } from "../../src/data/source.js";
import { quotedString } from "../../src/data/sql.js";
import type { Model } from "../../src/models/model.js";

/** Every row of a Parquet file through the model, in batches of `size`, concatenated per output column. */
export async function predictFile(
  db: Database,
  model: Model,
  file: string,
  size = 64,
): Promise<Map<string, number[]>> {
  const source = await Source.open(db, { from: `read_parquet(${quotedString(file)})`, label: file });
  const out = new Map<string, number[]>(model.outputs.map((o) => [o.name, []]));
  for await (const batch of source.batches(model.inputs, size)) append(out, await model.predict(batch));
  return out;
}

function append(out: Map<string, number[]>, batch: Batch): void {
  for (const column of batch.columns) {
    const values = out.get(column.name);
    expect(values, `column ${column.name} is one of the model's outputs`).toBeDefined();
    for (const v of column.data as Iterable<number | bigint>) values!.push(Number(v));
  }
}

/**
 * The largest difference between two series relative to `max(1, |expected|)`, and where: what the
 * tolerances below bound.
 */
export function worst(actual: readonly number[], expected: readonly number[]): { error: number; at: number } {
  expect(actual.length).toBe(expected.length);
  let error = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    const d = Number.isNaN(e) && Number.isNaN(a) ? 0 : Math.abs(a - e) / Math.max(1, Math.abs(e));
    if (!(d <= error)) {
      error = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      at = i;
    }
  }
  return { error, at };
}
