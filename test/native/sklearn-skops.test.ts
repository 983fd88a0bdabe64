import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeSkops } from "../../src/models/native/skops/index.js";
import { parseNpy } from "../../src/models/native/skops/npy.js";

/** A .npy file of the given format version, header dict and data. */
function npy(version: 1 | 2 | 3, header: string, data: Uint8Array): Uint8Array {
  const text = Buffer.from(header, version === 3 ? "utf8" : "latin1");
  const prefix = version === 1 ? 10 : 12;
  const padded = Math.ceil((prefix + text.length + 1) / 64) * 64 - prefix;
  const head = Buffer.alloc(prefix + padded, 0x20);
  head.set([0x93, ...Buffer.from("NUMPY"), version, 0]);
  if (version === 1) head.writeUInt16LE(padded, 8);
  else head.writeUInt32LE(padded, 8);
  head.set(text, prefix);
  head[prefix + padded - 1] = 0x0a;
  return Buffer.concat([head, data]);
}

function bytes(fill: (view: DataView) => void, size: number): Uint8Array {
  const out = new Uint8Array(size);
  fill(new DataView(out.buffer));
  return out;
}

describe(".npy reader", () => {
  it("reads a version 1 little-endian float64 vector", () => {
    const data = bytes((v) => {
      for (const [i, x] of [1.5, -2, Number.NaN].entries()) v.setFloat64(8 * i, x, true);
    }, 24);
    const a = parseNpy(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", data));
    expect(a.shape).toEqual([3]);
    expect(Array.from(a.values as Float64Array)).toEqual([1.5, -2, Number.NaN]);
  });

  it("reads a version 2 big-endian int32 matrix in Fortran order into C order", () => {
    // [[1, 2, 3], [4, 5, 6]] in Fortran order is 1 4 2 5 3 6.
    const data = bytes((v) => {
      for (const [i, x] of [1, 4, 2, 5, 3, 6].entries()) v.setInt32(4 * i, x, false);
    }, 24);
    const a = parseNpy(npy(2, "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3), }", data));
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.values as Float64Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("reads a version 3 (UTF-8 header) array of unicode strings", () => {
    const data = bytes((v) => {
      for (const [i, c] of [..."été"].entries()) v.setUint32(4 * i, c.codePointAt(0)!, true);
      v.setUint32(12, "b".codePointAt(0)!, true);
    }, 24);
    const a = parseNpy(npy(3, "{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", data));
    expect(a.values).toEqual(["été", "b"]);
  });

  it("reads a structured array with padding, field by field (a tree's nodes)", () => {
    const descr = "[('left_child', '<i8'), ('threshold', '<f8'), ('missing_go_to_left', 'u1'), ('', '|V7')]";
    const data = bytes((v) => {
      v.setBigInt64(0, 1n, true);
      v.setFloat64(8, 0.25, true);
      v.setUint8(16, 1);
      v.setBigInt64(24, -1n, true);
      v.setFloat64(32, -2, true);
    }, 48);
    const a = parseNpy(npy(1, `{'descr': ${descr}, 'fortran_order': False, 'shape': (2,), }`, data));
    expect(Array.from(a.fields!.get("left_child")!)).toEqual([1, -1]);
    expect(Array.from(a.fields!.get("threshold")!)).toEqual([0.25, -2]);
    expect(Array.from(a.fields!.get("missing_go_to_left")!)).toEqual([1, 0]);
    expect([...a.fields!.keys()]).toEqual(["left_child", "threshold", "missing_go_to_left"]);
  });

  it("refuses a complex dtype (expected failure)", () => {
    const header = "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }";
    expect(() => parseNpy(npy(1, header, new Uint8Array(16)))).toThrow(/c16 is not read/);
  });
});

/** A zip of the given entries (stored or deflated), as Python's zipfile writes it. */
function zip(entries: Record<string, Uint8Array>, deflate: boolean): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const body = deflate ? deflateRawSync(data) : Buffer.from(data);
    const n = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(deflate ? 8 : 0, 10);
    dir.writeUInt32LE(body.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(n.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, n, body);
    central.push(dir, n);
    offset += 30 + n.length + body.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dirBytes, end]);
}

const json = (value: unknown) => ({
  __class__: "str",
  __module__: "builtins",
  __loader__: "JsonNode",
  content: JSON.stringify(value),
  is_json: true,
});

describe("skops schema decoding", () => {
  const schema = {
    __class__: "Thing",
    __module__: "evil.module",
    __loader__: "ObjectNode",
    __id__: 1,
    protocol: 2,
    _skops_version: "0.16.0",
    content: {
      __class__: "dict",
      __module__: "builtins",
      __loader__: "DictNode",
      __id__: 2,
      content: {
        nan: { ...json(0), content: "NaN" },
        list: {
          __class__: "list",
          __module__: "builtins",
          __loader__: "ListNode",
          __id__: 3,
          content: [json("a"), json(2)],
        },
        again: { __class__: "list", __module__: "builtins", __loader__: "CachedNode", __id__: 3 },
        fn: { __class__: "system", __module__: "os", __loader__: "FunctionNode", __id__: 4 },
        scalar: {
          __class__: "float64",
          __module__: "numpy",
          __loader__: "NdArrayNode",
          __id__: 5,
          type: "numpy",
          file: "5.npy",
        },
      },
      key_types: { __class__: "list", __module__: "builtins", __loader__: "ListNode", content: [] },
    },
  };
  const scalar = npy(
    1,
    "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
    bytes((v) => v.setFloat64(0, 0.5, true), 8),
  );

  it.each([false, true])("decodes objects by name only, constructing nothing (deflated: %s)", (deflate) => {
    // Given a skops file naming a class and a function mlbatch must never run
    const file = zip({ "schema.json": Buffer.from(JSON.stringify(schema)), "5.npy": scalar }, deflate);
    // When it is decoded
    const { root, protocol } = decodeSkops(file);
    // Then the class and function are names, NaN is read, a CachedNode is the earlier list, a numpy scalar a number
    expect(protocol).toBe(2);
    expect(root).toMatchObject({ kind: "object", type: "evil.module.Thing" });
    const attrs = (root as unknown as { attrs: { entries: Map<string, unknown> } }).attrs.entries;
    expect(attrs.get("nan")).toBeNaN();
    expect(attrs.get("list")).toEqual(["a", 2]);
    expect(attrs.get("again")).toBe(attrs.get("list"));
    expect(attrs.get("fn")).toEqual({ kind: "function", name: "os.system" });
    expect(attrs.get("scalar")).toBe(0.5);
  });

  it("refuses a protocol newer than skops 0.16's (expected failure)", () => {
    const file = zip({ "schema.json": Buffer.from(JSON.stringify({ ...schema, protocol: 3 })) }, false);
    expect(() => decodeSkops(file)).toThrow(/protocol 3/);
  });

  it("refuses a node skops does not write (expected failure)", () => {
    const bad = { ...schema, __loader__: "EvalNode" };
    expect(() => decodeSkops(zip({ "schema.json": Buffer.from(JSON.stringify(bad)) }, false))).toThrow(
      /EvalNode/,
    );
  });
});
