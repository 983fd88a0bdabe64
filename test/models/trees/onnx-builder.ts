import { Writer } from "../../../src/models/onnx/protobuf.js";

/** A tree-ensemble attribute value: ints, floats (float32), strings, or one string. */
export type AttributeValue =
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly strings: readonly string[] }
  | { readonly string: string }
  | { readonly int: number }
  /** A tensor attribute: float32 (1), uint8 (2) or float64 (11) values, one-dimensional. */
  | { readonly tensor: readonly number[]; readonly elemType: 1 | 2 | 11 };

/** A one-node ONNX model: `X` float [N, features] -> the tree-ensemble node -> its outputs. */
export interface EnsembleModel {
  readonly op: "TreeEnsembleRegressor" | "TreeEnsembleClassifier" | "TreeEnsemble";
  readonly features: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** Output names and ONNX element types (1 float, 7 int64, 8 string). */
  readonly outputs: readonly { name: string; elemType: number }[];
}

function attribute(name: string, value: AttributeValue): Writer {
  const w = new Writer().bytes(1, name);
  if ("ints" in value) {
    const packed = new Writer();
    for (const v of value.ints) packed.raw(varint(v));
    return w.bytes(8, packed).uint(20, 7);
  }
  if ("floats" in value) {
    const bytes = new Uint8Array(4 * value.floats.length);
    const view = new DataView(bytes.buffer);
    value.floats.forEach((v, i) => {
      view.setFloat32(4 * i, v, true);
    });
    return w.bytes(7, bytes).uint(20, 6);
  }
  if ("strings" in value) {
    for (const s of value.strings) w.bytes(9, s);
    return w.uint(20, 8);
  }
  if ("int" in value) return w.uint(3, value.int).uint(20, 2);
  if ("tensor" in value) {
    const size = value.elemType === 2 ? 1 : value.elemType === 1 ? 4 : 8;
    const raw = new Uint8Array(size * value.tensor.length);
    const view = new DataView(raw.buffer);
    value.tensor.forEach((v, i) => {
      if (value.elemType === 2) view.setUint8(i, v);
      else if (value.elemType === 1) view.setFloat32(4 * i, v, true);
      else view.setFloat64(8 * i, v, true);
    });
    const tensor = new Writer().uint(1, value.tensor.length).uint(2, value.elemType).bytes(9, raw);
    return w.bytes(5, tensor).uint(20, 4);
  }
  return w.bytes(4, value.string).uint(20, 3);
}

/** A signed varint (negative numbers in ten bytes, as protobuf writes int64). */
export function varint(value: number | bigint): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Uint8Array.from(bytes);
}

function tensorType(elemType: number, dims: readonly (number | string)[] | undefined): Writer {
  if (dims === undefined) return new Writer().bytes(1, new Writer().uint(1, elemType));
  const shape = new Writer();
  for (const d of dims)
    shape.bytes(1, typeof d === "number" ? new Writer().uint(1, d) : new Writer().bytes(2, d));
  return new Writer().bytes(1, new Writer().uint(1, elemType).bytes(2, shape));
}

function valueInfo(name: string, elemType: number, dims?: readonly (number | string)[]): Writer {
  return new Writer().bytes(1, name).bytes(2, tensorType(elemType, dims));
}

/** Encodes the model (IR 8, opsets "" 17 and ai.onnx.ml 3, or 5 for `TreeEnsemble`). */
export function encodeEnsemble(model: EnsembleModel): Uint8Array {
  const node = new Writer().bytes(1, "X");
  for (const output of model.outputs) node.bytes(2, output.name);
  node.bytes(3, "trees").bytes(4, model.op).bytes(7, "ai.onnx.ml");
  for (const [name, value] of Object.entries(model.attributes)) node.bytes(5, attribute(name, value));
  const graph = new Writer()
    .bytes(1, node)
    .bytes(2, "g")
    .bytes(11, valueInfo("X", 1, ["N", model.features]));
  for (const output of model.outputs) graph.bytes(12, valueInfo(output.name, output.elemType));
  return new Writer()
    .uint(1, model.op === "TreeEnsemble" ? 10 : 8)
    .bytes(8, new Writer().bytes(1, "").uint(2, 17))
    .bytes(8, new Writer().bytes(1, "ai.onnx.ml").uint(2, model.op === "TreeEnsemble" ? 5 : 3))
    .bytes(7, graph)
    .finish();
}
