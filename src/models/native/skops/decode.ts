import { type NdArray, parseNpy } from "./npy.js";
import type { SkValue } from "./values.js";
import { ZipArchive } from "./zip.js";

/** The newest skops protocol this reader knows (skops 0.16's `skops.io._protocol.PROTOCOL`). */
export const SKOPS_PROTOCOL = 2;

/** A skops file, decoded. */
export interface SkopsFile {
  readonly root: SkValue;
  readonly protocol: number;
  /** The skops version that wrote it, when the file says. */
  readonly skopsVersion: string | undefined;
}

interface State {
  readonly __class__?: unknown;
  readonly __module__?: unknown;
  readonly __loader__?: unknown;
  readonly __id__?: unknown;
  readonly __reduce__?: { readonly args?: unknown };
  readonly content?: unknown;
  readonly type?: unknown;
  readonly file?: unknown;
  readonly shape?: unknown;
  readonly attrs?: unknown;
}

/**
 * Decodes a skops file (a zip of `schema.json` and `.npy` files) into plain values, as skops'
 * `get_tree` reads it (objects memoized by `__id__`, `CachedNode` references), but constructing nothing:
 * an object is its class name and attributes. Arrays are read from their `.npy` entries.
 *
 * @throws Error for a file that is not a skops file, or a node or protocol this reader does not know
 */
export function decodeSkops(bytes: Buffer): SkopsFile {
  const zip = ZipArchive.from(bytes);
  const schema = JSON.parse(zip.read("schema.json").toString("utf8")) as State & {
    protocol?: unknown;
    _skops_version?: unknown;
  };
  const protocol = schema.protocol;
  if (typeof protocol !== "number" || !Number.isInteger(protocol) || protocol < 0) {
    throw new Error(`schema.json has no valid skops protocol (${JSON.stringify(protocol)})`);
  }
  if (protocol > SKOPS_PROTOCOL) {
    throw new Error(
      `the file was written with skops protocol ${protocol}; mlbatch reads protocols 0 to ${SKOPS_PROTOCOL}`,
    );
  }
  const memo = new Map<unknown, SkValue>();
  const npy = (file: unknown): NdArray => {
    if (typeof file !== "string") throw new Error("an NdArrayNode names no file");
    try {
      return parseNpy(zip.read(file));
    } catch (error) {
      throw new Error(`array ${file}: ${(error as Error).message}`, { cause: error });
    }
  };
  const raw = (file: unknown): Buffer => zip.read(String(file));
  const root = decodeNode(schema, { memo, npy, raw });
  return {
    root,
    protocol,
    skopsVersion: typeof schema._skops_version === "string" ? schema._skops_version : undefined,
  };
}

interface Context {
  readonly memo: Map<unknown, SkValue>;
  readonly npy: (file: unknown) => NdArray;
  readonly raw: (file: unknown) => Buffer;
}

function decodeNode(raw: unknown, ctx: Context): SkValue {
  if (typeof raw !== "object" || raw === null)
    throw new Error(`a node is ${JSON.stringify(raw)}, not an object`);
  const state = raw as State;
  const id = state.__id__;
  if (id !== undefined && id !== null && id !== 0 && ctx.memo.has(id)) return ctx.memo.get(id)!;
  const loader = String(state.__loader__);
  if (loader === "CachedNode") {
    if (!ctx.memo.has(id)) throw new Error(`a CachedNode refers to the unknown object id ${String(id)}`);
    return ctx.memo.get(id)!;
  }
  const value = decodeLoader(loader, state, ctx);
  if (id !== undefined && id !== null && id !== 0) ctx.memo.set(id, value);
  return value;
}

function name(state: State): string {
  return `${String(state.__module__)}.${String(state.__class__)}`;
}

function decodeLoader(loader: string, state: State, ctx: Context): SkValue {
  const child = (raw: unknown) => decodeNode(raw, ctx);
  const content = state.content as Record<string, unknown> | undefined;
  switch (loader) {
    case "JsonNode":
      return parseJson(String(state.content));
    case "ListNode":
    case "TupleNode":
    case "SetNode":
      return (asList(state.content, loader) as unknown[]).map(child);
    case "DictNode": {
      const entries = new Map<string, SkValue>();
      for (const [key, value] of Object.entries((state.content ?? {}) as Record<string, unknown>)) {
        entries.set(key, child(value));
      }
      return { kind: "dict", entries };
    }
    case "DefaultDictNode":
    case "_DictWithDeprecatedKeysNode":
      return child(content?.main);
    case "NdArrayNode":
      return ndarray(state, ctx);
    case "DTypeNode": {
      const empty = child(state.content);
      return {
        kind: "dtype",
        name: typeof empty === "object" && empty !== null && "dtype" in empty ? String(empty.dtype) : "",
      };
    }
    case "ObjectNode":
      return {
        kind: "object",
        type: name(state),
        attrs: state.content === undefined ? undefined : child(state.content),
        args: undefined,
      };
    case "ReduceNode":
    case "TreeNode":
    case "LossNode":
      return {
        kind: "object",
        type: name(state),
        attrs: state.content === undefined ? undefined : child(state.content),
        args: state.__reduce__?.args === undefined ? undefined : child(state.__reduce__.args),
      };
    case "ConstructorFromReduceNode":
      return { kind: "object", type: name(state), attrs: undefined, args: child(state.content) };
    case "RandomStateNode":
    case "RandomGeneratorNode":
    case "SparseMatrixNode":
    case "MaskedArrayNode":
      // Kept by name only: no estimator mlbatch runs predicts with them.
      return { kind: "object", type: name(state), attrs: undefined, args: undefined };
    case "TypeNode":
      return { kind: "type", name: name(state) };
    case "FunctionNode":
    case "OperatorFuncNode":
      // Protocol 0 wrote a function as {module_path, function} in its content.
      if (content !== undefined && typeof content.function === "string") {
        return { kind: "function", name: `${String(content.module_path)}.${content.function}` };
      }
      return { kind: "function", name: name(state) };
    case "MethodNode":
      return { kind: "method", func: String(content?.func), obj: child(content?.obj) };
    case "PartialNode":
      return {
        kind: "partial",
        func: child(content?.func),
        args: child(content?.args),
        kwds: child(content?.kwds),
      };
    case "SliceNode":
      return {
        kind: "slice",
        start: (content?.start ?? null) as number | null,
        stop: (content?.stop ?? null) as number | null,
        step: (content?.step ?? null) as number | null,
      };
    case "BytesNode":
    case "BytearrayNode":
      return { kind: "bytes", bytes: new Uint8Array(ctx.raw(state.file)) };
    default:
      throw new Error(
        `node ${loader} (for ${name(state)}) is not one skops writes in protocol ${SKOPS_PROTOCOL} or before`,
      );
  }
}

/** An `NdArrayNode`: a `.npy` entry, or an object array's items; a numpy scalar (`numpy.float64`) as its value. */
function ndarray(state: State, ctx: Context): SkValue {
  let array: NdArray;
  if (state.type === "numpy") array = ctx.npy(state.file);
  else if (state.type === "json") {
    const items = asList(state.content, "NdArrayNode").map((item) => decodeNode(item, ctx));
    const shape = decodeNode(state.shape, ctx);
    const dims = Array.isArray(shape) ? shape.map(Number) : [items.length];
    const flat = flatten(items);
    const strings = flat.every((v) => typeof v === "string");
    const numbers = flat.every((v) => typeof v === "number" || v === null);
    // Other object arrays (a gradient boosting's estimators) keep their items.
    if (!strings && !numbers) return { kind: "objects", shape: dims, items: flat };
    array = {
      kind: "ndarray",
      dtype: "|O",
      shape: dims,
      values: strings
        ? (flat as string[])
        : Float64Array.from(flat, (v) => (v === null ? Number.NaN : (v as number))),
    };
  } else throw new Error(`an NdArrayNode has type ${JSON.stringify(state.type)}, not numpy or json`);
  // `numpy.float64`, `numpy.int64`, ... are scalars stored as 0-d arrays.
  if (state.__class__ !== "ndarray" && array.shape.length === 0 && array.fields === undefined) {
    return array.values[0] ?? null;
  }
  return array;
}

function flatten(items: readonly SkValue[]): SkValue[] {
  return items.flatMap((item) => (Array.isArray(item) ? flatten(item) : [item]));
}

function asList(value: unknown, loader: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`a ${loader} has no list of items`);
  return value;
}

/** A `JsonNode`'s content: JSON, with Python's `NaN`, `Infinity` and `-Infinity`. */
function parseJson(text: string): SkValue {
  const special: Record<string, number> = {
    NaN: Number.NaN,
    Infinity: Number.POSITIVE_INFINITY,
    "-Infinity": Number.NEGATIVE_INFINITY,
  };
  const trimmed = text.trim();
  if (trimmed in special) return special[trimmed]!;
  const value = JSON.parse(trimmed.replace(/\bNaN\b|-?\bInfinity\b/g, "null")) as SkValue;
  return value;
}
