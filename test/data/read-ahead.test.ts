import { describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { ReadAhead } from "../../src/data/read-ahead.js";
import { Source } from "../../src/data/source.js";

/** A stream of `count` chunks (then null) whose fetches resolve when the test says, recording what it saw. */
function stream(count: number, failAt?: number) {
  const seen = { fetches: 0, inFlight: 0, most: 0 };
  const pending: (() => void)[] = [];
  const fetch = () => {
    const index = seen.fetches++;
    seen.inFlight++;
    seen.most = Math.max(seen.most, seen.inFlight);
    return new Promise<number | null>((resolve, reject) => {
      pending.push(() => {
        seen.inFlight--;
        if (index === failAt) reject(new Error(`chunk ${index} failed`));
        else resolve(index < count ? index : null);
      });
    });
  };
  /** Lets every fetch under way resolve, and the reader's callbacks run. */
  const flush = async () => {
    for (let i = 0; i < 50; i++) {
      for (const resolve of pending.splice(0)) resolve();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { fetch, seen, flush };
}

describe("ReadAhead", () => {
  it("given a stream, when read, then every chunk comes in order, one fetch at a time, at most depth ahead, none after the last", async () => {
    const s = stream(10);
    const chunks = new ReadAhead(s.fetch, (c) => c === null, 3);
    await s.flush();
    // Fetched ahead before anything is asked: the depth, no more.
    expect(s.seen.fetches).toBe(3);
    const got: (number | null)[] = [];
    for (;;) {
      const next = chunks.next();
      await s.flush();
      const chunk = await next;
      if (chunk === undefined) break;
      got.push(chunk);
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.seen.most).toBe(1);
    // The last one (null) ends the stream; nothing is fetched after it, asked again or not.
    expect(await chunks.next()).toBeUndefined();
    await s.flush();
    expect(s.seen.fetches).toBe(11);
    await chunks.settle();
  });

  it("given a fetch that fails, when read, then the chunks before it come, then its error, and nothing is fetched after it", async () => {
    const s = stream(10, 2);
    const chunks = new ReadAhead(s.fetch, (c) => c === null, 4);
    await s.flush();
    expect(await chunks.next()).toBe(0);
    expect(await chunks.next()).toBe(1);
    await expect(chunks.next()).rejects.toThrow("chunk 2 failed");
    await s.flush();
    expect(s.seen.fetches).toBe(3);
    await chunks.settle();
  });

  it("given a reader that stops early, when settled, then it waits for the fetch under way and fetches no more", async () => {
    const s = stream(100);
    const chunks = new ReadAhead(s.fetch, (c) => c === null, 8);
    let settled = false;
    const settling = chunks.settle().then(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(s.seen.inFlight).toBe(1);
    await s.flush();
    await settling;
    expect(s.seen.fetches).toBe(1);
  });
});

describe("Source.batches, read ahead", () => {
  it("given a reader that stops after one batch, when the connection is used at once, then no fetch is left on it and the rows are right", async () => {
    const db = await Database.create();
    try {
      await db.run("CREATE TABLE t AS SELECT range AS id, range * 0.5 AS v FROM range(100000)");
      const source = await Source.open(db, { from: "t", label: "t" });
      const requests = [
        { name: "id", type: "int64" as const },
        { name: "v", type: "float32" as const },
      ];
      for (let round = 0; round < 3; round++) {
        for await (const batch of source.batches(requests, 5000)) {
          expect(batch.columns[0]!.data[4999]).toBe(4999n);
          break;
        }
        expect(await db.rows("SELECT count(*) AS n FROM t")).toEqual([{ n: 100000n }]);
      }
      let rows = 0;
      let sum = 0;
      for await (const batch of source.batches(requests, 7000)) {
        rows += batch.length;
        for (const v of batch.columns[1]!.data as Float32Array) sum += v;
      }
      expect(rows).toBe(100000);
      expect(sum).toBe((99999 * 100000) / 4);
    } finally {
      db.close();
    }
  });
});
