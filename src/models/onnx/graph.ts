import type { OnnxNode, OnnxValue } from "./nodes.js";
import { type GraphParts, partsOfBytes, partsOfFile } from "./parse.js";
import { type Field, fields, forEachField, readVarint, text, Writer } from "./protobuf.js";

export type { OnnxNode, OnnxValue } from "./nodes.js";

/** ONNX `TensorProto.DataType` values used here. */
export const ELEM = { FLOAT: 1, INT64: 7, STRING: 8, DOUBLE: 11 } as const;

/** Tensor element types by `TensorProto.DataType`, as ONNX Runtime names them. */
export const TENSOR_TYPES: Readonly<Record<number, string>> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
};

/**
 * An ONNX model's graph, read from its bytes, that can be cut into sub-models.
 *
 * @example
 * ```ts
 * const model = OnnxModelFile.parse(await readFile("model.onnx"));
 * const trees = model.nodes.filter((n) => n.opType === "TreeEnsembleRegressor");
 * ```
 */
export class OnnxModelFile {
  private constructor(
    /** The ModelProto's fields but the graph (ir_version, opset_import, ...), encoded. */
    private readonly header: readonly Field[],
    readonly nodes: readonly OnnxNode[],
    readonly inputs: readonly OnnxValue[],
    readonly outputs: readonly OnnxValue[],
    private readonly valueInfo: ReadonlyMap<string, OnnxValue>,
    /** Initializer name -> encoded `TensorProto` field. */
    private readonly initializers: ReadonlyMap<string, Uint8Array>,
    /** Opset version by domain ("" is the default domain). */
    readonly opsets: ReadonlyMap<string, number>,
  ) {}

  /**
   * Parses a model held in memory.
   *
   * @throws Error when the bytes are not an ONNX model
   */
  static parse(bytes: Uint8Array): OnnxModelFile {
    return OnnxModelFile.of(partsOfBytes(bytes));
  }

  /**
   * Reads a model file in pieces: its small fields are read, its large attributes (a forest's node
   * arrays) are left in the file and read, piece by piece, when decoded. The file is not held open.
   *
   * @throws Error when the file cannot be read or is not an ONNX model
   */
  static read(path: string): OnnxModelFile {
    return OnnxModelFile.of(partsOfFile(path));
  }

  private static of(p: GraphParts): OnnxModelFile {
    return new OnnxModelFile(p.header, p.nodes, p.inputs, p.outputs, p.valueInfo, p.initializers, p.opsets);
  }

  /** Whether the graph has sparse initializers (sub-models do not carry them). */
  get hasSparseInitializers(): boolean {
    return this.initializers.has("\u0000sparse");
  }

  /** The tool that wrote the model (`producer_name`: `skl2onnx`, `OnnxMLTools`, ...), or "". */
  get producerName(): string {
    const field = this.header.find((f) => f.number === 2 && f.wire === 2);
    return field === undefined ? "" : text(field);
  }

  /** Whether an initializer keeps its values in a file beside the model (`data_location: EXTERNAL`). */
  get hasExternalData(): boolean {
    for (const [name, tensor] of this.initializers) {
      if (name === "\u0000sparse") continue;
      let external = false;
      forEachField(tensor, (number, wire, _s, _e, value) => {
        if (number === 14 && wire === 0 && value === 1) external = true;
        return external;
      });
      if (external) return true;
    }
    return false;
  }

  /**
   * The values of an int64 initializer held in the file (a Reshape's shape), or undefined when `name` is
   * not one (another type, external data, or not an initializer).
   */
  int64Initializer(name: string): BigInt64Array | undefined {
    const tensor = this.initializers.get(name);
    if (tensor === undefined) return undefined;
    let dataType = 0;
    let external = false;
    let raw: Uint8Array | undefined;
    const values: bigint[] = [];
    for (const f of fields(tensor)) {
      if (f.number === 2 && f.wire === 0) dataType = f.value;
      else if (f.number === 14 && f.wire === 0) external = f.value === 1;
      else if (f.number === 9 && f.wire === 2) raw = f.bytes;
      else if (f.number === 7) values.push(...int64Values(f));
    }
    if (dataType !== ELEM.INT64 || external) return undefined;
    if (raw === undefined) return BigInt64Array.from(values);
    if (raw.length % 8 !== 0) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
    return BigInt64Array.from({ length: raw.length / 8 }, (_, i) => view.getBigInt64(8 * i, true));
  }

  /** Whether `name` is an initializer. */
  isInitializer(name: string): boolean {
    return this.initializers.has(name);
  }

  /** The declared element type of a value (graph input, output or value info), when known. */
  elemType(name: string): number | undefined {
    return (
      this.inputs.find((v) => v.name === name)?.elemType ??
      this.outputs.find((v) => v.name === name)?.elemType ??
      this.valueInfo.get(name)?.elemType
    );
  }

  /**
   * Encodes a model of some of the graph's nodes: the header (opsets, IR version) as is, the given
   * nodes, the initializers they use, and the given inputs and outputs.
   *
   * @param inputs - each input's name, and its element type when the graph does not declare it
   * @param outputs - each output's name, and its element type when the graph does not declare it
   * @param graphInputs - whether the graph's own inputs come first (so the sub-model is fed as the model)
   */
  subModel(
    nodes: readonly OnnxNode[],
    inputs: readonly { name: string; elemType: number }[],
    outputs: readonly { name: string; elemType: number }[],
    graphInputs: boolean,
  ): Uint8Array {
    const used = new Set(nodes.flatMap((n) => n.inputs));
    const graph = new Writer();
    for (const node of nodes) graph.raw(node.raw);
    graph.bytes(2, "mlbatch_part");
    for (const [name, tensor] of this.initializers) if (used.has(name)) graph.bytes(5, tensor);
    if (graphInputs) for (const input of this.inputs) graph.bytes(11, input.bytes);
    for (const input of inputs)
      graph.bytes(11, this.declared(input.name) ?? valueInfo(input.name, input.elemType));
    return this.encoded(graph, outputs);
  }

  /**
   * Encodes the whole model with other nodes and graph outputs: the header (opsets, IR version, producer)
   * as is, the graph's inputs and every initializer (sparse ones excepted: see
   * {@link OnnxModelFile.hasSparseInitializers}).
   *
   * @param outputs - each output's name, and its element type when the graph does not declare it
   */
  withGraph(nodes: readonly OnnxNode[], outputs: readonly { name: string; elemType: number }[]): Uint8Array {
    const graph = new Writer();
    for (const node of nodes) graph.raw(node.raw);
    graph.bytes(2, "mlbatch_model");
    for (const [name, tensor] of this.initializers) if (name !== "\u0000sparse") graph.bytes(5, tensor);
    for (const input of this.inputs) graph.bytes(11, input.bytes);
    return this.encoded(graph, outputs);
  }

  /** The model of a graph: its outputs declared, then the header (opsets, IR version, producer) as is. */
  private encoded(graph: Writer, outputs: readonly { name: string; elemType: number }[]): Uint8Array {
    for (const output of outputs) {
      graph.bytes(12, this.declared(output.name) ?? valueInfo(output.name, output.elemType));
    }
    const model = new Writer();
    for (const field of this.header) model.raw(field.raw);
    model.bytes(7, graph);
    return model.finish();
  }

  private declared(name: string): Uint8Array | undefined {
    return (
      this.inputs.find((v) => v.name === name)?.bytes ??
      this.outputs.find((v) => v.name === name)?.bytes ??
      this.valueInfo.get(name)?.bytes
    );
  }
}

/** The int64 values of a field: one varint, or packed ones. */
function int64Values(field: Field): bigint[] {
  if (field.wire === 0) return [BigInt.asIntN(64, BigInt(field.value))];
  const out: bigint[] = [];
  for (let p = 0; p < field.bytes.length; ) {
    const [value, next] = readVarint(field.bytes, p);
    out.push(BigInt(value));
    p = next;
  }
  return out;
}

/** A `ValueInfoProto` of a tensor of unknown shape. */
function valueInfo(name: string, elemType: number): Uint8Array {
  return new Writer()
    .bytes(1, name)
    .bytes(2, new Writer().bytes(1, new Writer().uint(1, elemType)))
    .finish();
}
