// The Arrow IPC transport's own encoding: text (multi-byte UTF-8 included), booleans, integers and floats
// survive a round trip through an IPC stream, as apache-arrow reads it back.
import { tableFromIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import type { Column } from "../../src/data/batch.js";
import { decodeOutputs, encodeBatch } from "../../src/models/pyfunc/arrow.js";

const columns: Column[] = [
  { name: "text", type: "string", data: ["", "a", "café", "日本語", "emoji 🚲", "x".repeat(300)] },
  { name: "flag", type: "bool", data: Uint8Array.from([1, 0, 1, 1, 0, 1]) },
  { name: "count", type: "int64", data: BigInt64Array.from([0n, -1n, 2n ** 40n, 3n, 4n, 5n]) },
  { name: "score", type: "float64", data: Float64Array.from([0.5, Number.NaN, -1e300, 1, 2, 3]) },
  { name: "small", type: "float32", data: Float32Array.from([1.5, 2, 3, 4, 5, 6]) },
];

describe("the pyfunc transport", () => {
  it("given columns of every kind, when encoded, then apache-arrow reads the same values back", () => {
    const table = tableFromIPC(encodeBatch(columns, 6));
    expect(table.numRows).toBe(6);
    expect(table.getChild("text")!.toArray()).toEqual(columns[0]!.data);
    expect([...table.getChild("flag")!].map(Boolean)).toEqual([true, false, true, true, false, true]);
    expect(table.getChild("count")!.toArray()).toEqual(columns[2]!.data);
  });

  it("given ASCII text (encoded in one call), when encoded, then apache-arrow reads the same values back", () => {
    const text = ["", "2011-01-01", "2011-01-01", "a", "", "x".repeat(300), "z"];
    const table = tableFromIPC(encodeBatch([{ name: "t", type: "string", data: text }], text.length));
    expect(table.getChild("t")!.toArray()).toEqual(text);
  });

  it("given text whose values join into a surrogate pair, when encoded, then each value stays its own", () => {
    const text = ["a\uD83D", "\uDEB2b", "plain"];
    const table = tableFromIPC(encodeBatch([{ name: "t", type: "string", data: text }], text.length));
    expect(table.getChild("t")!.toArray()).toEqual(["a\uFFFD", "\uFFFDb", "plain"]);
  });

  it("given an encoded batch, when decoded as outputs, then each column comes back with its type and values", () => {
    const specs = columns.map(({ name, type }) => ({ name, type }));
    const batch = decodeOutputs(encodeBatch(columns, 6), specs);
    expect(batch.length).toBe(6);
    for (const [j, column] of columns.entries()) {
      expect(batch.columns[j]!.type).toBe(column.type);
      expect(Array.from(batch.columns[j]!.data as ArrayLike<unknown>)).toEqual(
        Array.from(column.data as ArrayLike<unknown>),
      );
    }
  });

  it("given a slice of a column (a view), when encoded, then only its rows cross", () => {
    const data = Float64Array.from([1, 2, 3, 4, 5]);
    const sliced = decodeOutputs(
      encodeBatch([{ name: "v", type: "float64", data: data.subarray(2, 4) }], 2),
      [{ name: "v", type: "float64" }],
    );
    expect(Array.from(sliced.columns[0]!.data as Float64Array)).toEqual([3, 4]);
  });
});
