/** Attributes decode the same from memory and from a file read in pieces, whatever the pieces' size. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Attribute } from "../../../src/models/onnx/attribute.js";
import { Writer } from "../../../src/models/onnx/protobuf.js";
import { FileRange } from "../../../src/models/onnx/source.js";
import { removeDir, tempDir } from "../../helpers.js";
import { varint } from "../trees/onnx-builder.js";

const dir = tempDir();
afterAll(() => removeDir(dir));

const MODES = ["BRANCH_LEQ", "BRANCH_LT", "LEAF", "A_MODE_NAME_LONGER_THAN_A_SMALL_PIECE"];

/** An `AttributeProto` of ints, floats and strings, each packed or one field per value. */
function encode(
  ints: readonly bigint[],
  floats: readonly number[],
  strings: readonly string[],
  packed: boolean,
) {
  const w = new Writer().bytes(1, "values");
  if (packed) {
    const p = new Writer();
    for (const v of ints) p.raw(varint(v));
    w.bytes(8, p);
    const f = new Uint8Array(4 * floats.length);
    floats.forEach((v, i) => {
      new DataView(f.buffer).setFloat32(4 * i, v, true);
    });
    w.bytes(7, f);
  } else {
    for (const v of ints) w.raw(Uint8Array.of(0x40), varint(v));
    for (const v of floats) {
      const f = new Uint8Array(5);
      f[0] = 0x3d;
      new DataView(f.buffer).setFloat32(1, v, true);
      w.raw(f);
    }
  }
  for (const s of strings) w.bytes(9, s);
  return w.uint(20, 7).finish();
}

let files = 0;
function fromFile(bytes: Uint8Array, piece: number): Attribute {
  const path = join(dir, `attribute-${files++}.pb`);
  // Bytes before the attribute, so that its offset in the file is not 0.
  writeFileSync(path, Buffer.concat([Buffer.alloc(13, 0xff), bytes]));
  return Attribute.lazy("values", new FileRange(path, 13, bytes.length, piece));
}

describe("Attribute", () => {
  it("given ints, floats and strings, packed or not, then a file read in pieces of any size decodes them as memory does", () => {
    const int32 = fc.oneof(
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    );
    fc.assert(
      fc.property(
        fc.array(int32, { maxLength: 200 }),
        fc.array(fc.float({ noNaN: true }), { maxLength: 100 }),
        fc.array(fc.constantFrom(...MODES), { maxLength: 100 }),
        fc.boolean(),
        fc.integer({ min: 16, max: 300 }),
        (ints, floats, strings, packed, piece) => {
          const bytes = encode(
            ints.map((v) => BigInt(v)),
            floats,
            strings,
            packed,
          );
          const memory = Attribute.parse(bytes);
          const file = fromFile(bytes, piece);
          expect(memory.name).toBe("values");
          for (const a of [memory, file]) {
            expect(Array.from(a.int32s())).toEqual(ints);
            expect(Array.from(a.bigints())).toEqual(ints.map((v) => BigInt(v)));
            expect(Array.from(a.floats())).toEqual(floats.map((v) => Math.fround(v)));
            expect(Array.from(a.codes(MODES.slice(0, 3)))).toEqual(
              strings.map((s) => MODES.slice(0, 3).indexOf(s)),
            );
            expect(a.strings()).toEqual(strings);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("given an int beyond 32 bits, when read as int32, then a RangeError names the attribute; as int64 it is exact", () => {
    for (const value of [2n ** 31n, -(2n ** 31n) - 1n, 2n ** 62n]) {
      for (const packed of [false, true]) {
        const bytes = encode([1n, value, 2n], [], [], packed);
        for (const a of [Attribute.parse(bytes), fromFile(bytes, 16)]) {
          expect(() => a.int32s()).toThrow(RangeError);
          expect(() => a.int32s()).toThrow(/attribute values: .* does not fit in 32 bits/);
          expect(Array.from(a.bigints())).toEqual([1n, value, 2n]);
        }
      }
    }
  });

  it("given an attribute cut short in its file, when decoded, then it fails as truncated", () => {
    const bytes = encode([1n, 2n, 3n], [0.5], ["LEAF"], false);
    const cut = fromFile(bytes.subarray(0, bytes.length - 2), 16);
    expect(() => cut.codes(MODES)).toThrow(/truncated/);
  });
});
