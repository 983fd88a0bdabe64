import type { Attribute } from "./attribute.js";

/** A graph node. */
export interface OnnxNode {
  readonly opType: string;
  readonly domain: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, Attribute>;
  /** The encoded `NodeProto` field, to copy into a sub-model. */
  readonly raw: Uint8Array;
}

/** A graph input, output or value info: its name and the encoded `ValueInfoProto` field. */
export interface OnnxValue {
  readonly name: string;
  /** ONNX `TensorProto.DataType` of a tensor value, else undefined. */
  readonly elemType: number | undefined;
  /** Dimensions as ONNX Runtime reports them: a number, a symbolic name, or "" when unknown. */
  readonly shape: readonly (number | string)[];
  readonly bytes: Uint8Array;
}
