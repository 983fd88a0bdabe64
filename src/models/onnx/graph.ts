import { type Field, fields, forEachField, readVarint, text, Writer } from "./protobuf.js";

/** A node attribute, decoded lazily: repeated values come out as typed arrays, never one object per value. */
export class Attribute {
  private constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {}

  /** Reads an `AttributeProto`'s name; the type and values are decoded on demand. */
  static parse(bytes: Uint8Array): Attribute {
    let name = "";
    // The name is field 1, written first: no need to scan past the values for it.
    forEachField(bytes, (number, wire, start, end) => {
      if (number === 1 && wire === 2) name = new TextDecoder().decode(bytes.subarray(start, end));
      return number === 1;
    });
    return new Attribute(name, bytes);
  }

  /** The `i` value. */
  get int(): number {
    let out = 0;
    forEachField(this.bytes, (number, wire, _s, _e, value) => {
      if (number === 3 && wire === 0) out = value;
    });
    return out;
  }

  /** The `s` value as text. */
  get string(): string {
    let out = "";
    forEachField(this.bytes, (number, wire, start, end) => {
      if (number === 4 && wire === 2) out = new TextDecoder().decode(this.bytes.subarray(start, end));
    });
    return out;
  }

  /** The `floats` values. */
  floats(): Float32Array {
    let count = 0;
    forEachField(this.bytes, (number, wire, start, end) => {
      if (number === 7) count += wire === 2 ? (end - start) / 4 : 1;
    });
    const out = new Float32Array(count);
    const data = view(this.bytes);
    let i = 0;
    forEachField(this.bytes, (number, wire, start, end) => {
      if (number !== 7) return;
      if (wire === 5) out[i++] = data.getFloat32(start, true);
      else for (let p = start; p < end; p += 4) out[i++] = data.getFloat32(p, true);
    });
    return out;
  }

  /**
   * The `ints` values as 32-bit integers (node, tree, feature and class ids: half the memory).
   *
   * @throws RangeError when a value does not fit
   */
  int32s(): Int32Array {
    const out = new Int32Array(this.intCount());
    this.eachInt((value, i) => {
      if (value !== (value | 0))
        throw new RangeError(`attribute ${this.name}: ${value} does not fit in 32 bits`);
      out[i] = value;
    });
    return out;
  }

  /** The `ints` values, exactly (int64 class labels). */
  bigints(): BigInt64Array {
    const out = new BigInt64Array(this.intCount());
    let i = 0;
    forEachField(this.bytes, (number, wire, start, end) => {
      if (number !== 8) return;
      let pos = start;
      const stop = wire === 0 ? start + 1 : end;
      while (pos < stop) {
        let value = 0n;
        let shift = 0n;
        for (;;) {
          const byte = this.bytes[pos++]!;
          value |= BigInt(byte & 0x7f) << shift;
          shift += 7n;
          if (byte < 0x80) break;
        }
        out[i++] = BigInt.asIntN(64, value);
      }
    });
    return out;
  }

  private intCount(): number {
    const buf = this.bytes;
    let count = 0;
    forEachField(buf, (number, wire, start, end) => {
      if (number !== 8) return;
      if (wire === 0) count++;
      else for (let p = start; p < end; p++) if (buf[p]! < 0x80) count++;
    });
    return count;
  }

  private eachInt(visit: (value: number, index: number) => void): void {
    const buf = this.bytes;
    let i = 0;
    forEachField(buf, (number, wire, start, end, value) => {
      if (number !== 8) return;
      if (wire === 0) visit(value, i++);
      else {
        let pos = start;
        while (pos < end) {
          const [v, next] = readVarint(buf, pos);
          visit(v, i++);
          pos = next;
        }
      }
    });
  }

  /** The `strings` values, mapped to their index in `table` (-1 when absent): no string per value. */
  codes(table: readonly string[]): Int8Array {
    const encoded = table.map((s) => new TextEncoder().encode(s));
    const codes: number[] = [];
    forEachField(this.bytes, (number, wire, start, end) => {
      if (number !== 9 || wire !== 2) return;
      codes.push(encoded.findIndex((e) => equalBytes(e, this.bytes, start, end)));
    });
    return Int8Array.from(codes);
  }

  /**
   * The `t` value, a one-dimensional tensor: its element type (`TensorProto.DataType`) and its values
   * (from `raw_data`, `float_data`, `int32_data` or `double_data`, whichever it has).
   */
  tensor(): { readonly dataType: number; readonly values: Float32Array | Float64Array | Int32Array } {
    let found: { readonly dataType: number; readonly values: Float32Array | Float64Array | Int32Array } = {
      dataType: 0,
      values: new Float32Array(0),
    };
    forEachField(this.bytes, (number, wire, start, end) => {
      if (number === 5 && wire === 2) found = decodeTensor(this.bytes.subarray(start, end));
    });
    return found;
  }

  /** The `strings` values as text. */
  strings(): string[] {
    const out: string[] = [];
    forEachField(this.bytes, (number, wire, start, end) => {
      if (number === 9 && wire === 2) out.push(new TextDecoder().decode(this.bytes.subarray(start, end)));
    });
    return out;
  }
}

/** A one-dimensional `TensorProto`'s element type and values. */
function decodeTensor(bytes: Uint8Array): {
  dataType: number;
  values: Float32Array | Float64Array | Int32Array;
} {
  let dataType = 0;
  let raw: Uint8Array | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const doubles: number[] = [];
  const data = view(bytes);
  forEachField(bytes, (number, wire, start, end, value) => {
    if (number === 2 && wire === 0) dataType = value;
    else if (number === 9 && wire === 2) raw = bytes.slice(start, end);
    else if (number === 4) {
      if (wire === 5) floats.push(data.getFloat32(start, true));
      else for (let p = start; p < end; p += 4) floats.push(data.getFloat32(p, true));
    } else if (number === 10) {
      if (wire === 1) doubles.push(data.getFloat64(start, true));
      else for (let p = start; p < end; p += 8) doubles.push(data.getFloat64(p, true));
    } else if (number === 5) {
      if (wire === 0) ints.push(value);
      else {
        let pos = start;
        while (pos < end) {
          const [v, next] = readVarint(bytes, pos);
          ints.push(v);
          pos = next;
        }
      }
    }
  });
  // FLOAT 1, UINT8 2, INT8 3, UINT16 4, INT16 5, INT32 6, DOUBLE 11.
  if (raw !== undefined) {
    const buffer = raw.buffer as ArrayBuffer;
    if (dataType === 1) return { dataType, values: new Float32Array(buffer, 0, raw.length / 4) };
    if (dataType === 11) return { dataType, values: new Float64Array(buffer, 0, raw.length / 8) };
    if (dataType === 2) return { dataType, values: Int32Array.from(raw) };
    if (dataType === 6) return { dataType, values: new Int32Array(buffer, 0, raw.length / 4) };
    return { dataType, values: new Int32Array(0) };
  }
  if (dataType === 1) return { dataType, values: Float32Array.from(floats) };
  if (dataType === 11) return { dataType, values: Float64Array.from(doubles) };
  return { dataType, values: Int32Array.from(ints) };
}

function equalBytes(a: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

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

/** ONNX `TensorProto.DataType` values used here. */
export const ELEM = { FLOAT: 1, INT64: 7, STRING: 8, DOUBLE: 11 } as const;

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
   * @throws Error when the bytes are not an ONNX model
   */
  static parse(bytes: Uint8Array): OnnxModelFile {
    const header: Field[] = [];
    const opsets = new Map<string, number>();
    let graph: Uint8Array | undefined;
    for (const field of fields(bytes)) {
      if (field.number === 7 && field.wire === 2) graph = field.bytes;
      else {
        header.push(field);
        if (field.number === 8 && field.wire === 2) {
          let domain = "";
          let version = 0;
          for (const f of fields(field.bytes)) {
            if (f.number === 1) domain = text(f);
            else if (f.number === 2) version = f.value;
          }
          opsets.set(domain, version);
        }
      }
    }
    if (graph === undefined) throw new Error("not an ONNX model: no graph");
    const nodes: OnnxNode[] = [];
    const inputs: OnnxValue[] = [];
    const outputs: OnnxValue[] = [];
    const valueInfo = new Map<string, OnnxValue>();
    const initializers = new Map<string, Uint8Array>();
    for (const field of fields(graph)) {
      if (field.wire !== 2) continue;
      if (field.number === 1) nodes.push(parseNode(field));
      else if (field.number === 5) initializers.set(tensorName(field.bytes), field.bytes);
      else if (field.number === 11) inputs.push(parseValue(field.bytes));
      else if (field.number === 12) outputs.push(parseValue(field.bytes));
      else if (field.number === 13) {
        const value = parseValue(field.bytes);
        valueInfo.set(value.name, value);
      } else if (field.number === 15) {
        // Sparse initializers: not copied into sub-models, so a graph with them is never cut.
        initializers.set("\u0000sparse", field.bytes);
      }
    }
    return new OnnxModelFile(header, nodes, inputs, outputs, valueInfo, initializers, opsets);
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

/** A `ValueInfoProto` of a tensor of unknown shape. */
function valueInfo(name: string, elemType: number): Uint8Array {
  return new Writer()
    .bytes(1, name)
    .bytes(2, new Writer().bytes(1, new Writer().uint(1, elemType)))
    .finish();
}

function parseNode(field: Field): OnnxNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes = new Map<string, Attribute>();
  let opType = "";
  let domain = "";
  let name = "";
  for (const f of fields(field.bytes)) {
    if (f.number === 1) inputs.push(text(f));
    else if (f.number === 2) outputs.push(text(f));
    else if (f.number === 3) name = text(f);
    else if (f.number === 4) opType = text(f);
    else if (f.number === 7) domain = text(f);
    else if (f.number === 5) {
      const attribute = Attribute.parse(f.bytes);
      attributes.set(attribute.name, attribute);
    }
  }
  return { opType, domain, name, inputs, outputs, attributes, raw: field.raw };
}

function parseValue(bytes: Uint8Array): OnnxValue {
  let name = "";
  let elemType: number | undefined;
  let shape: (number | string)[] | undefined;
  for (const f of fields(bytes)) {
    if (f.number === 1) name = text(f);
    else if (f.number === 2) {
      for (const t of fields(f.bytes)) {
        if (t.number !== 1) continue; // tensor_type
        for (const e of fields(t.bytes)) {
          if (e.number === 1) elemType = e.value;
          else if (e.number === 2) {
            shape = [];
            for (const dim of fields(e.bytes)) {
              if (dim.number !== 1) continue;
              let value: number | string = "";
              for (const d of fields(dim.bytes)) {
                if (d.number === 1) value = d.value;
                else if (d.number === 2) value = text(d);
              }
              shape.push(value);
            }
          }
        }
      }
    }
  }
  return { name, elemType, shape: shape ?? [], bytes };
}

function tensorName(bytes: Uint8Array): string {
  let name = "";
  forEachField(bytes, (number, wire, start, end) => {
    if (number === 8 && wire === 2) name = new TextDecoder().decode(bytes.subarray(start, end));
  });
  return name;
}
