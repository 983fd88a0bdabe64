/**
 * The nodes before an ensemble as one loop over the rows: each column of the ensemble's row-major input
 * is traced back, at load, to one column of one feed and what the nodes do to it (a cast, a one-hot
 * category, scalers), and a row loop writing them all is generated, so that a batch is written straight
 * into one matrix, without the intermediate tensors the nodes make one by one (10 casts and 3
 * concatenations for skl2onnx's ColumnTransformer of the bikes pipeline). The values are those of the
 * steps in `index.ts`, which the caller falls back to for feeds of another shape than the graph declares.
 */
import { type OnnxModelFile, type OnnxNode, TENSOR_TYPES } from "../../onnx/graph.js";
import type { WireTensor } from "../../onnx-worker.js";
import { CAST_TARGETS, castable, float32Of } from "./cast.js";
import { OneHot, reshapeOf, scalerOf } from "./ops.js";

/** One column of a feed: every `stride`th value from `index`. */
interface FeedColumn {
  readonly feed: string;
  readonly type: string;
  readonly stride: number;
  readonly index: number;
}

/** A one-hot encoding of a feed's column: a column per category, written together. */
interface Encoding {
  readonly encoder: OneHot;
  readonly source: FeedColumn;
  /** The ensemble's input columns of each category (filled once the output is known). */
  readonly targets: number[][];
}

/** A column of a tensor between the feeds and the ensemble, as made from one feed column. */
interface Column {
  readonly source: FeedColumn;
  /** Its element type now (the feed's, or the one it was cast to). */
  readonly type: string;
  /** The encoding and the category it is the column of. */
  readonly category?: { readonly encoding: Encoding; readonly index: number };
  /** Scalers applied after, in order: `(x - offset) * factor` in float32. */
  readonly scales: readonly (readonly [number, number])[];
}

/** A tensor of the batch's rows: its dimensions after the rows', and its columns in row-major order. */
interface Traced {
  readonly type: string;
  readonly dims: readonly number[];
  readonly columns: readonly Column[];
}

/** What a feed must be for the plan: its type and the values a row holds (dims `[n]` or `[n, m]`). */
interface FeedShape {
  readonly type: string;
  readonly rank: number;
  readonly width: number;
}

/** The nodes before an ensemble, fused (see the module's comment). */
export class FusedPrelude {
  private constructor(
    private readonly feeds: ReadonlyMap<string, FeedShape>,
    /** The ensemble's input columns that are feed values (cast or not), by column. */
    private readonly values: readonly (Column | undefined)[],
    /** The one-hot encodings, in node order (an unknown category fails the batch at the first node). */
    private readonly encodings: readonly Encoding[],
  ) {
    this.kernel = rowKernel(values, encodings);
  }

  /** The generated row loop (see {@link rowKernel}). */
  private readonly kernel: RowKernel;

  /**
   * The plan of `nodes` (in graph order, each one the steps of `index.ts` run) making `output`, or
   * undefined when one of them does something not traced here (see {@link trace}).
   */
  static of(model: OnnxModelFile, nodes: readonly OnnxNode[], output: string): FusedPrelude | undefined {
    const tensors = new Map<string, Traced>();
    const feeds = new Map<string, FeedShape>();
    for (const input of model.inputs) {
      const shape = input.shape;
      const width = shape.length === 1 ? 1 : shape[1];
      const type = input.elemType === undefined ? undefined : TENSOR_TYPES[input.elemType];
      if (type === undefined || (shape.length !== 1 && shape.length !== 2)) continue;
      if (typeof width !== "number" || width < 1) continue;
      feeds.set(input.name, { type, rank: shape.length, width });
      const columns = Array.from({ length: width }, (_, index) => ({
        source: { feed: input.name, type, stride: width, index },
        type,
        scales: [],
      }));
      tensors.set(input.name, { type, dims: shape.length === 1 ? [] : [width], columns });
    }
    const encodings: Encoding[] = [];
    for (const node of nodes) {
      // A Reshape's shape is an initializer, read by `trace`.
      const data = node.opType === "Reshape" ? node.inputs.slice(0, 1) : node.inputs;
      const inputs = data.map((name) => tensors.get(name));
      if (inputs.some((t) => t === undefined)) return undefined;
      const made = trace(model, node, inputs as Traced[], encodings);
      if (made === undefined) return undefined;
      tensors.set(node.outputs[0]!, made);
    }
    const x = tensors.get(output);
    if (x === undefined || x.type !== "float32" || x.dims.length !== 1) return undefined;
    const values: (Column | undefined)[] = [];
    x.columns.forEach((column, j) => {
      if (column.category === undefined) values.push(column);
      else {
        values.push(undefined);
        const { encoding, index } = column.category;
        encoding.targets[index] = [...(encoding.targets[index] ?? []), j];
      }
    });
    // Scalers after a one-hot column: not traced (none of the exports seen has one).
    if (x.columns.some((c) => c.category !== undefined && c.scales.length > 0)) return undefined;
    const used = new Set(x.columns.map((c) => c.source.feed));
    try {
      return new FusedPrelude(new Map([...feeds].filter(([name]) => used.has(name))), values, encodings);
    } catch (error) {
      // No code generation (node --disallow-code-generation-from-strings: V8's EvalError): node by node.
      if (error instanceof EvalError) return undefined;
      throw error;
    }
  }

  /**
   * Writes the ensemble's input `[n, width]` for the feeds' rows into `into` (when it holds them) or a new
   * array. Undefined when a feed is not of the type and shape the graph declares, or there are no rows:
   * the caller then runs the nodes one by one, which fail or not as ONNX Runtime does.
   *
   * @throws Error for an unknown category of a one-hot encoder with `zeros` = 0
   */
  run(feeds: Readonly<Record<string, WireTensor>>, into?: Float32Array): WireTensor | undefined {
    let n = -1;
    for (const [name, shape] of this.feeds) {
      const feed = feeds[name];
      if (feed === undefined || feed.type !== shape.type || feed.dims.length !== shape.rank) return undefined;
      const rows = feed.dims[0]!;
      if ((shape.rank === 2 && feed.dims[1] !== shape.width) || (n >= 0 && rows !== n)) return undefined;
      if ((feed.data as ArrayLike<unknown>).length !== rows * shape.width) return undefined;
      n = rows;
    }
    if (n <= 0) return undefined;
    const width = this.values.length;
    const out =
      into !== undefined && into.length >= n * width
        ? into.subarray(0, n * width)
        : new Float32Array(n * width);
    // The categories first: an unknown one fails the batch before anything is written.
    const categories = this.encodings.map(({ encoder, source }) =>
      encoder.indexes(feeds[source.feed]!.data, source.index, source.stride, n),
    );
    const sources = this.values.map((column) =>
      column === undefined ? undefined : feeds[column.source.feed]!.data,
    );
    this.kernel(sources, categories, out, n);
    return { type: "float32", data: out, dims: [n, width] };
  }
}

/** A node's output traced from its inputs' (undefined when not traced here). */
function trace(
  model: OnnxModelFile,
  node: OnnxNode,
  inputs: readonly Traced[],
  encodings: Encoding[],
): Traced | undefined {
  const a = node.attributes;
  const first = inputs[0]!;
  const op = node.domain === "ai.onnx.ml" ? `ml.${node.opType}` : node.opType;
  if (op === "Identity") return first;
  if (op === "Cast") {
    const to = CAST_TARGETS[a.get("to")?.int ?? -1];
    if (to === undefined) return undefined;
    if (to === first.type) return first;
    const columns = first.columns.map((c) =>
      c.category === undefined && c.scales.length === 0 && c.type === c.source.type && castable(c.type, to)
        ? { ...c, type: to }
        : undefined,
    );
    return columns.includes(undefined)
      ? undefined
      : { type: to, dims: first.dims, columns: columns as Column[] };
  }
  if (op === "Concat") return concatenated(inputs, a.get("axis")?.int);
  if (op === "Reshape") {
    const r = reshapeOf(model, node);
    return r && reshaped(first, r.shape, r.allowZero);
  }
  if (op === "ml.Scaler") {
    const s = scalerOf(node);
    const k = first.dims[0];
    if (s === undefined || first.type !== "float32" || first.dims.length !== 1 || k === undefined)
      return undefined;
    const { offset, factor } = s;
    // Per column or one for all; another length fails the batch, node by node.
    if (factor.length !== k && factor.length !== 1) return undefined;
    const columns = first.columns.map((c, j) => {
      const i = factor.length === 1 ? 0 : j;
      return { ...c, scales: [...c.scales, [offset[i]!, factor[i]!] as const] };
    });
    return { ...first, columns };
  }
  if (op === "ml.OneHotEncoder") return oneHot(node, first, encodings);
  return undefined;
}

/** `Concat` along an axis after the rows'. */
function concatenated(inputs: readonly Traced[], axis: number | undefined): Traced | undefined {
  const first = inputs[0]!;
  const rank = first.dims.length + 1;
  if (axis === undefined) return undefined;
  const at = axis < 0 ? axis + rank : axis;
  if (at < 1 || at >= rank) return undefined;
  const d = at - 1;
  for (const t of inputs) {
    if (t.type !== first.type || t.dims.length !== first.dims.length) return undefined;
    if (t.dims.some((size, i) => i !== d && size !== first.dims[i])) return undefined;
  }
  const outer = first.dims.slice(0, d).reduce((x, y) => x * y, 1);
  const inners = inputs.map((t) => t.dims.slice(d).reduce((x, y) => x * y, 1));
  const columns: Column[] = [];
  for (let o = 0; o < outer; o++) {
    inputs.forEach((t, k) => {
      columns.push(...t.columns.slice(o * inners[k]!, (o + 1) * inners[k]!));
    });
  }
  const dims = [...first.dims];
  dims[d] = inputs.reduce((sum, t) => sum + t.dims[d]!, 0);
  return { type: first.type, dims, columns };
}

/** `Reshape` that keeps the rows (its first dimension is 0, kept, or -1, inferred as the rows). */
function reshaped(t: Traced, shape: BigInt64Array, allowZero: boolean): Traced | undefined {
  const size = t.columns.length;
  const head = shape[0];
  if (!((head === 0n && !allowZero) || head === -1n)) return undefined;
  const dims = Array.from(shape.subarray(1), (s, i) => (s === 0n && !allowZero ? t.dims[i] : Number(s)));
  const inferred = dims.indexOf(-1);
  if (inferred >= 0 && head === -1n) return undefined;
  const known = dims.reduce((x: number, s) => (s === -1 || s === undefined ? x : x * s), 1);
  if (inferred >= 0 && known > 0) dims[inferred] = size / known;
  if (dims.some((s) => s === undefined || !Number.isInteger(s) || s < 1)) return undefined;
  if (dims.reduce((x: number, s) => x * s!, 1) !== size) return undefined;
  return { type: t.type, dims: dims as number[], columns: t.columns };
}

/** `OneHotEncoder` of feed columns of int64 (or narrower integers cast to it) or strings. */
function oneHot(node: OnnxNode, t: Traced, encodings: Encoding[]): Traced | undefined {
  if (t.type !== "int64" && t.type !== "string") return undefined;
  if (t.dims.length > 1) return undefined;
  if (t.columns.some((c) => c.category !== undefined || c.scales.length > 0)) return undefined;
  const encoder = OneHot.of(node);
  if (encoder === undefined) return undefined;
  const columns: Column[] = [];
  for (const c of t.columns) {
    const encoding: Encoding = { encoder, source: c.source, targets: [] };
    encodings.push(encoding);
    for (let index = 0; index < encoder.size; index++) {
      columns.push({ source: c.source, type: "float32", category: { encoding, index }, scales: [] });
    }
  }
  return { type: "float32", dims: [...t.dims, encoder.size], columns };
}

/** A plan's row loop: the value columns' sources (by column), each encoding's categories, the output. */
type RowKernel = (
  sources: readonly (WireTensor["data"] | undefined)[],
  categories: readonly Int32Array[],
  out: Float32Array,
  n: number,
) => void;

/**
 * Generates the row loop of a plan, as JavaScript compiled by V8: for each row, every column of the
 * ensemble's input is written in turn, its source, conversion and constants spelled out (a loop over
 * columns would dispatch on each one's kind per value, and the columns' strided writes, one pass per
 * column, stay out of cache: 80 ms per 1M rows of the bikes pipeline, against 43 here). The conversions
 * are those of the steps: float32 stores round as `static_cast<float>`, int64 values through the exact
 * double of their halves (else {@link float32Of}), scalers in float32.
 */
function rowKernel(values: readonly (Column | undefined)[], encodings: readonly Encoding[]): RowKernel {
  const width = values.length;
  const constants: number[] = [];
  const constant = (v: number) => {
    constants.push(v);
    return `K[${constants.length - 1}]`;
  };
  const head: string[] = [];
  const body: string[] = [];
  values.forEach((column, j) => {
    if (column === undefined) return;
    const { type, stride, index } = column.source;
    const at = stride === 1 ? `i + ${index}` : `i * ${stride} + ${index}`;
    let value: string;
    if (type === "int64") {
      // Int64 feeds: read as int32 halves; the rare value beyond 2^53 through float32Of.
      head.push(`const h${j} = halves(S[${j}]), b${j} = S[${j}];`);
      body.push(`s = ${at}; h = h${j}[2 * s + 1];`);
      value = `(h >= -2097152 && h < 2097152 ? h * 4294967296 + (h${j}[2 * s] >>> 0) : float32Of(b${j}[s]))`;
    } else {
      head.push(`const s${j} = S[${j}];`);
      value = `s${j}[${at}]`;
    }
    if (column.scales.length === 0) body.push(`out[row + ${j}] = ${value};`);
    else {
      body.push(`v = fround(${value});`);
      column.scales.forEach(([offset, factor], k) => {
        const scaled = `fround(v - ${constant(offset)}) * ${constant(factor)}`;
        body.push(k === column.scales.length - 1 ? `out[row + ${j}] = ${scaled};` : `v = fround(${scaled});`);
      });
    }
  });
  const maps: Int32Array[] = [];
  encodings.forEach(({ targets }, e) => {
    const lists = Array.from({ length: targets.length }, (_, c) => targets[c] ?? []);
    if (lists.length === 0) return;
    for (const j of new Set(lists.flat())) body.push(`out[row + ${j}] = 0;`);
    head.push(`const c${e} = C[${e}];`);
    if (lists.every((list) => list.length === 1)) {
      // One column per category (every export seen): a table from category to column.
      maps.push(Int32Array.from(lists, (list) => list[0]!));
      body.push(`c = c${e}[i]; if (c >= 0) out[row + M[${maps.length - 1}][c]] = 1;`);
    } else {
      for (const [c, list] of lists.entries()) {
        if (list.length > 0)
          body.push(`if (c${e}[i] === ${c}) { ${list.map((j) => `out[row + ${j}] = 1;`).join(" ")} }`);
      }
    }
  });
  const source = `
    ${head.join("\n    ")}
    let s = 0, h = 0, v = 0, c = 0;
    for (let i = 0, row = 0; i < n; i++, row += ${width}) {
      ${body.join("\n      ")}
    }`;
  const make = new Function(
    "K",
    "M",
    "fround",
    "float32Of",
    "halves",
    `return (S, C, out, n) => {${source}\n  };`,
  ) as (
    K: Float64Array,
    M: readonly Int32Array[],
    fround: (x: number) => number,
    big: (v: bigint) => number,
    halves: (data: BigInt64Array) => Int32Array,
  ) => RowKernel;
  return make(Float64Array.from(constants), maps, Math.fround, float32Of, (data) => {
    return new Int32Array(data.buffer, data.byteOffset, data.length * 2);
  });
}
