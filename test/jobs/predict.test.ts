import { describe, expect, it } from "vitest";
import type { Batch } from "../../src/data/batch.js";
import type { Source } from "../../src/data/source.js";
import type { PredictionSink } from "../../src/jobs/predict.js";
import { predictAll } from "../../src/jobs/predict.js";
import { DEFAULT_BATCH_SIZE, type Model } from "../../src/models/model.js";

const batch = (length: number, first: number): Batch => ({
  length,
  columns: [{ name: "x", type: "float32", data: Float32Array.from({ length }, (_, i) => first + i) }],
});

function source(batches: number): Source {
  return {
    async *batches() {
      for (let b = 0; b < batches; b++) yield batch(2, 2 * b);
    },
  } as unknown as Source;
}

/** A model whose batch `failing` fails after `failAfter` ms; others succeed after `delay(b)` ms. */
function model(delay: (b: number) => number, failing = -1, failAfter = 0): Model {
  let calls = 0;
  return {
    uri: "models:/fake/1",
    engine: "fake",
    inputs: [],
    outputs: [{ name: "y", type: "float32" }],
    predict(input: Batch) {
      const b = calls++;
      return new Promise((resolve, reject) => {
        if (b === failing) setTimeout(() => reject(new Error(`batch ${b} failed`)), failAfter);
        else
          setTimeout(
            () => resolve({ length: input.length, columns: [{ ...input.columns[0]!, name: "y" }] }),
            delay(b),
          );
      });
    },
    close: async () => {},
  };
}

function table() {
  const appended: number[] = [];
  return {
    appended,
    table: {
      append: (b: Batch) => {
        appended.push(...(b.columns[0]!.data as Float32Array));
      },
    } satisfies PredictionSink,
  };
}

describe("predictAll", () => {
  it("given two batches in flight finishing out of order, then predictions are appended in input order", async () => {
    const t = table();
    await predictAll(
      source(5),
      model((b) => (b % 2 === 0 ? 30 : 1)),
      t.table,
      { batchSize: 2, onRows: () => {} },
    );
    expect(t.appended).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("given the second batch in flight failing while the first is still running, then the error is thrown (no unhandled rejection)", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const t = table();
      await expect(
        predictAll(
          source(4),
          model(() => 100, 1, 5),
          t.table,
          { batchSize: 2, onRows: () => {} },
        ),
      ).rejects.toThrow("batch 1 failed");
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("predictAll's batch size", () => {
  /** The batch size predictAll asks the source for. */
  async function askedOf(configured: number | undefined, preferred: number | undefined): Promise<number> {
    let asked = -1;
    const counting = {
      async *batches(_inputs: unknown, size: number) {
        asked = size;
        yield batch(2, 0);
      },
    } as unknown as Source;
    await predictAll(counting, { ...model(() => 0), batchSize: preferred }, table().table, {
      batchSize: configured,
      onRows: () => {},
    });
    return asked;
  }

  it("given job.batch_size, then batches are of that size, whatever the engine prefers", async () => {
    expect(await askedOf(5, 131_072)).toBe(5);
  });

  it("given no job.batch_size and an engine that prefers a size (pyfunc), then batches are of its size", async () => {
    expect(await askedOf(undefined, 131_072)).toBe(131_072);
  });

  it("given neither, then batches are of the default size", async () => {
    expect(await askedOf(undefined, undefined)).toBe(DEFAULT_BATCH_SIZE);
  });
});
