/**
 * The operators that prepare a tree ensemble's input in the exports users run (skl2onnx's
 * ColumnTransformer: Cast, Concat, OneHotEncoder, Reshape, Identity, Scaler), as ONNX Runtime 1.30's CPU
 * kernels compute them: data movement, exact casts, and float32 arithmetic in the kernels' order.
 */
import type { OnnxModelFile, OnnxNode } from "../../onnx/graph.js";
import type { WireTensor } from "../../onnx-worker.js";

type Numbers = Exclude<WireTensor["data"], string[]>;
type Data = WireTensor["data"];

/** `Concat` along `axis` (negative: from the end): every input has the same rank and other dimensions. */
export function concat(inputs: readonly WireTensor[], axis: number, name: string): WireTensor {
  const first = inputs[0]!;
  const rank = first.dims.length;
  const at = axis < 0 ? axis + rank : axis;
  if (at < 0 || at >= rank)
    throw new Error(`Concat node "${name}": axis ${axis} is out of range for rank ${rank}`);
  const dims = [...first.dims];
  dims[at] = 0;
  for (const t of inputs) {
    if (
      t.type !== first.type ||
      t.dims.length !== rank ||
      t.dims.some((d, i) => i !== at && d !== first.dims[i])
    )
      throw new Error(`Concat node "${name}": its inputs' types or shapes (${shapes(inputs)}) do not match`);
    dims[at]! += t.dims[at]!;
  }
  const outer = first.dims.slice(0, at).reduce((a, b) => a * b, 1);
  const inners = inputs.map((t) => t.dims.slice(at).reduce((a, b) => a * b, 1));
  const width = inners.reduce((a, b) => a + b, 0);
  const out = like(first.data, outer * width);
  let offset = 0;
  inputs.forEach((t, k) => {
    copyBlocks(t.data, out, outer, inners[k]!, width, offset);
    offset += inners[k]!;
  });
  return { type: first.type, data: out, dims };
}

/** Copies `outer` blocks of `inner` values from `from` into `to`, block `o` at `o * width + offset`. */
function copyBlocks(from: Data, to: Data, outer: number, inner: number, width: number, offset: number): void {
  if (Array.isArray(from)) {
    const strings = to as string[];
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < inner; j++) strings[o * width + offset + j] = from[o * inner + j]!;
    return;
  }
  const src = from as Float32Array;
  const dst = to as Float32Array;
  if (inner === 1) {
    // One column (the usual [n, 1] inputs): one strided pass.
    for (let o = 0, at = offset; o < outer; o++, at += width) dst[at] = src[o]!;
  } else if (inner > 64) {
    for (let o = 0; o < outer; o++) dst.set(src.subarray(o * inner, (o + 1) * inner), o * width + offset);
  } else {
    // A few columns per block: element by element (a subarray per block would cost more than the copy).
    for (let o = 0, at = offset, q = 0; o < outer; o++, at += width) {
      for (let j = 0; j < inner; j++) dst[at + j] = src[q++]!;
    }
  }
}

/** An empty array of `length` values of the same kind as `data`. */
function like(data: Data, length: number): Data {
  if (Array.isArray(data)) return new Array<string>(length).fill("");
  return new (data.constructor as new (n: number) => Numbers)(length);
}

/** A `Reshape` node's shape (an int64 initializer) and `allowzero`; undefined when the shape is computed. */
export function reshapeOf(
  model: OnnxModelFile,
  node: OnnxNode,
): { shape: BigInt64Array; allowZero: boolean } | undefined {
  const shape = node.inputs.length === 2 ? model.int64Initializer(node.inputs[1]!) : undefined;
  if (shape === undefined) return undefined;
  return { shape, allowZero: (node.attributes.get("allowzero")?.int ?? 0) !== 0 };
}

/** `Reshape` to `shape` (ONNX's: 0 keeps the input's dimension unless `allowZero`, -1 is inferred). */
export function reshape(t: WireTensor, shape: BigInt64Array, allowZero: boolean, name: string): WireTensor {
  const size = t.dims.reduce((a, b) => a * b, 1);
  const dims = Array.from(shape, (d, i) => (d === 0n && !allowZero ? t.dims[i] : Number(d)));
  const known = dims.reduce((a: number, d) => (d === -1 || d === undefined ? a : a * d), 1);
  const inferred = dims.indexOf(-1);
  if (inferred >= 0 && known > 0) dims[inferred] = size / known;
  if (
    dims.some((d) => d === undefined || !Number.isInteger(d) || d < 0) ||
    dims.reduce((a: number, b) => a * b!, 1) !== size
  )
    throw new Error(`Reshape node "${name}": cannot reshape ${shapes([t])} to [${shape.join(", ")}]`);
  return { type: t.type, data: t.data, dims: dims as number[] };
}

/** `OneHotEncoder` (ai.onnx.ml): a float 1 at each value's category, as ONNX Runtime's kernel. */
export class OneHot {
  /**
   * The encoder of a `OneHotEncoder` node; undefined when it has both category lists or none (ONNX
   * Runtime refuses it: such a model stays with it, which says so).
   */
  static of(node: OnnxNode): OneHot | undefined {
    const ints = node.attributes.get("cats_int64s")?.bigints() ?? new BigInt64Array(0);
    const strings = node.attributes.get("cats_strings")?.strings() ?? [];
    if (ints.length > 0 === strings.length > 0) return undefined;
    const zeros = (node.attributes.get("zeros")?.int ?? 1) !== 0;
    return new OneHot(ints.length > 0 ? ints : strings, zeros, node.name || node.opType);
  }

  private readonly count: number;
  /** Categories within int32, by value; the others; string categories. */
  private readonly small = new Map<number, number>();
  private readonly large = new Map<bigint, number>();
  private readonly strings = new Map<string, number>();

  /**
   * @param categories - `cats_int64s` or `cats_strings` (a repeated category: its last index, as ONNX Runtime)
   * @param zeros - `zeros`: an unknown category gives zeros (else the batch fails)
   */
  constructor(
    categories: BigInt64Array | readonly string[],
    private readonly zeros: boolean,
    private readonly name: string,
  ) {
    this.count = categories.length;
    categories.forEach((c: bigint | string, i: number) => {
      if (typeof c === "string") this.strings.set(c, i);
      else if (c >= -(2n ** 31n) && c < 2n ** 31n) this.small.set(Number(c), i);
      else this.large.set(c, i);
    });
  }

  /** The number of categories (the columns a value is encoded in). */
  get size(): number {
    return this.count;
  }

  /** Encodes an int64 or string tensor of rank 1 or 2 into a float32 one with the categories last. */
  encode(t: WireTensor): WireTensor {
    if (t.dims.length > 2)
      throw new Error(`OneHotEncoder node "${this.name}": its input has rank ${t.dims.length}, over 2`);
    const n = t.dims.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n * this.count);
    const at = this.indexes(t.data, 0, 1, n);
    for (let i = 0; i < n; i++) if (at[i]! >= 0) out[i * this.count + at[i]!] = 1;
    return { type: "float32", data: out, dims: [...t.dims, this.count] };
  }

  /**
   * The category of each of `n` values of `data` (every `stride`th from `from`), -1 for an unknown one:
   * int64 values, strings, or values of a narrower integer type cast to int64.
   *
   * @throws Error for an unknown category when `zeros` is 0, as ONNX Runtime fails the batch
   */
  indexes(data: Data, from: number, stride: number, n: number): Int32Array {
    const out = new Int32Array(n);
    const strings = Array.isArray(data) ? data : undefined;
    const ints = data instanceof BigInt64Array ? data : undefined;
    const halves = ints ? new Int32Array(ints.buffer, ints.byteOffset, 2 * ints.length) : undefined;
    const narrow = strings || ints ? undefined : (data as unknown as Int32Array);
    for (let i = 0, s = from; i < n; i++, s += stride) {
      let at: number | undefined;
      if (strings) at = this.strings.get(strings[s]!);
      else if (narrow) at = this.small.get(narrow[s]!);
      // A value within int32 (its high half is the low half's sign) is looked up as a number.
      else if (halves![2 * s + 1] === halves![2 * s]! >> 31) at = this.small.get(halves![2 * s]!);
      else if (this.large.size > 0) at = this.large.get(ints![s]!);
      if (at !== undefined) out[i] = at;
      else if (!this.zeros)
        throw new Error(`OneHotEncoder node "${this.name}": Unknown Category and zeros = 0.`);
      else out[i] = -1;
    }
    return out;
  }
}

/**
 * A `Scaler` node's `offset` and `scale`; undefined when ONNX Runtime refuses them (an empty scale, or an
 * offset of another length).
 */
export function scalerOf(node: OnnxNode): { offset: Float32Array; factor: Float32Array } | undefined {
  const factor = node.attributes.get("scale")?.floats() ?? new Float32Array(0);
  const offset = node.attributes.get("offset")?.floats() ?? new Float32Array(0);
  return factor.length === 0 || offset.length !== factor.length ? undefined : { offset, factor };
}

/** `Scaler` (ai.onnx.ml) of a float32 tensor: `(x - offset) * scale` in float32, per column or for all. */
export function scale(t: WireTensor, offset: Float32Array, factor: Float32Array, name: string): WireTensor {
  if (t.dims.length === 0) throw new Error(`Scaler node "${name}": its input has no dimensions`);
  const x = t.data as Float32Array;
  const stride = t.dims.length === 1 ? t.dims[0]! : t.dims[1]!;
  const out = new Float32Array(x.length);
  const fr = Math.fround;
  if (offset.length === stride && factor.length === stride) {
    for (let i = 0; i < x.length; i++) out[i] = fr(x[i]! - offset[i % stride]!) * factor[i % stride]!;
  } else if (offset.length === 1 && factor.length === 1) {
    for (let i = 0; i < x.length; i++) out[i] = fr(x[i]! - offset[0]!) * factor[0]!;
  } else {
    throw new Error(
      `Scaler node "${name}": Either both scale and offset can be of feature size (${stride}) or 1`,
    );
  }
  return { type: "float32", data: out, dims: t.dims };
}

function shapes(tensors: readonly WireTensor[]): string {
  return tensors.map((t) => `${t.type}[${t.dims.join(", ")}]`).join(", ");
}
