/**
 * Reads an ONNX `ModelProto` into the parts of an {@link OnnxModelFile}: from bytes in memory, or from a
 * file in pieces (its large attributes located, not read).
 */
import { Attribute } from "./attribute.js";
import { type FileField, FileFields } from "./file-fields.js";
import type { OnnxNode, OnnxValue } from "./nodes.js";
import { type Field, fields, forEachField, text } from "./protobuf.js";
import { FileRange } from "./source.js";

/** What a model is made of: its header, graph nodes, values and initializers. */
export interface GraphParts {
  /** The ModelProto's fields but the graph (ir_version, opset_import, ...), encoded. */
  readonly header: Field[];
  readonly nodes: OnnxNode[];
  readonly inputs: OnnxValue[];
  readonly outputs: OnnxValue[];
  readonly valueInfo: Map<string, OnnxValue>;
  /** Initializer name -> encoded `TensorProto` field ("\u0000sparse": the graph has sparse ones). */
  readonly initializers: Map<string, Uint8Array>;
  /** Opset version by domain ("" is the default domain). */
  readonly opsets: Map<string, number>;
}

/** Fields above this size are left in the file when a model is read from one. */
const LARGE = 1 << 16;
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const NODE_ATTRIBUTE = 5;

/** @throws Error when the bytes are not an ONNX model */
export function partsOfBytes(bytes: Uint8Array): GraphParts {
  const parts = emptyParts();
  let graph: Uint8Array | undefined;
  for (const field of fields(bytes)) {
    if (field.number === MODEL_GRAPH && field.wire === 2) graph = field.bytes;
    else addHeader(parts, field);
  }
  if (graph === undefined) throw new Error("not an ONNX model: no graph");
  for (const field of fields(graph)) addGraphField(parts, field);
  return parts;
}

/** @throws Error when the file cannot be read or is not an ONNX model */
export function partsOfFile(path: string): GraphParts {
  const file = new FileFields(path);
  try {
    const parts = emptyParts();
    let graph: FileField | undefined;
    for (const field of file.fields(0, file.size)) {
      if (field.number === MODEL_GRAPH && field.wire === 2) graph = field;
      else addHeader(parts, file.field(field));
    }
    if (graph === undefined) throw new Error("not an ONNX model: no graph");
    for (const field of file.fields(graph.payload, graph.end)) {
      const large = field.number === GRAPH_NODE && field.wire === 2 && field.end - field.start > LARGE;
      if (large) parts.nodes.push(largeNode(file, path, field));
      else addGraphField(parts, file.field(field));
    }
    return parts;
  } finally {
    file.close();
  }
}

function emptyParts(): GraphParts {
  return {
    header: [],
    nodes: [],
    inputs: [],
    outputs: [],
    valueInfo: new Map(),
    initializers: new Map(),
    opsets: new Map(),
  };
}

function addHeader(parts: GraphParts, field: Field): void {
  parts.header.push(field);
  if (field.number !== 8 || field.wire !== 2) return;
  let domain = "";
  let version = 0;
  for (const f of fields(field.bytes)) {
    if (f.number === 1) domain = text(f);
    else if (f.number === 2) version = f.value;
  }
  parts.opsets.set(domain, version);
}

function addGraphField(parts: GraphParts, field: Field): void {
  if (field.wire !== 2) return;
  if (field.number === GRAPH_NODE) parts.nodes.push(parseNode(field));
  else if (field.number === 5) parts.initializers.set(tensorName(field.bytes), field.bytes);
  else if (field.number === 11) parts.inputs.push(parseValue(field.bytes));
  else if (field.number === 12) parts.outputs.push(parseValue(field.bytes));
  else if (field.number === 13) {
    const value = parseValue(field.bytes);
    parts.valueInfo.set(value.name, value);
  } else if (field.number === 15) {
    // Sparse initializers: not copied into sub-models, so a graph with them is never cut.
    parts.initializers.set("\u0000sparse", field.bytes);
  }
}

/** A node's fields as they are read. */
interface NodeFields {
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attributes: Map<string, Attribute>;
  opType: string;
  domain: string;
  name: string;
}

function nodeFields(): NodeFields {
  return { inputs: [], outputs: [], attributes: new Map(), opType: "", domain: "", name: "" };
}

/** Reads one field of a `NodeProto`. */
function addNodeField(node: NodeFields, f: Field): void {
  if (f.number === 1) node.inputs.push(text(f));
  else if (f.number === 2) node.outputs.push(text(f));
  else if (f.number === 3) node.name = text(f);
  else if (f.number === 4) node.opType = text(f);
  else if (f.number === 7) node.domain = text(f);
  else if (f.number === NODE_ATTRIBUTE) {
    const attribute = Attribute.parse(f.bytes);
    node.attributes.set(attribute.name, attribute);
  }
}

function parseNode(field: Field): OnnxNode {
  const node = nodeFields();
  for (const f of fields(field.bytes)) addNodeField(node, f);
  return { ...node, raw: field.raw };
}

/** A node too large to read at once: its large attributes stay in the file, and so does its encoding. */
function largeNode(file: FileFields, path: string, field: FileField): OnnxNode {
  const node = nodeFields();
  for (const f of file.fields(field.payload, field.end)) {
    if (f.number === NODE_ATTRIBUTE && f.wire === 2 && f.end - f.start > LARGE) {
      const name = attributeName(file, f);
      node.attributes.set(name, Attribute.lazy(name, new FileRange(path, f.payload, f.end - f.payload)));
    } else addNodeField(node, file.field(f));
  }
  const raw = new FileRange(path, field.start, field.end - field.start);
  return {
    ...node,
    get raw() {
      return raw.bytes();
    },
  };
}

/** The name of an attribute left in the file (its field 1, usually first). */
function attributeName(file: FileFields, attribute: FileField): string {
  for (const f of file.fields(attribute.payload, attribute.end)) {
    if (f.number === 1 && f.wire === 2) return new TextDecoder().decode(file.read(f.payload, f.end));
  }
  return "";
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
          else if (e.number === 2) shape = parseShape(e.bytes);
        }
      }
    }
  }
  return { name, elemType, shape: shape ?? [], bytes };
}

function parseShape(bytes: Uint8Array): (number | string)[] {
  const shape: (number | string)[] = [];
  for (const dim of fields(bytes)) {
    if (dim.number !== 1) continue;
    let value: number | string = "";
    for (const d of fields(dim.bytes)) {
      if (d.number === 1) value = d.value;
      else if (d.number === 2) value = text(d);
    }
    shape.push(value);
  }
  return shape;
}

function tensorName(bytes: Uint8Array): string {
  let name = "";
  forEachField(bytes, (number, wire, start, end) => {
    if (number === 8 && wire === 2) name = new TextDecoder().decode(bytes.subarray(start, end));
  });
  return name;
}
