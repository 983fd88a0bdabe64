/**
 * ONNX `Cast` between the numeric types a model's inputs come in, with the C++ conversions ONNX Runtime
 * applies (`static_cast`: integers and doubles to float32 rounded to nearest, ties to even; int64 to
 * int32 wrapped), so that the bits are ONNX Runtime's. Casts from floats to integers are left to ONNX
 * Runtime (their out-of-range results are the platform's).
 */
import type { WireTensor } from "../../onnx-worker.js";

/** `TensorProto.DataType` codes of the casts done here, by the tensor type they make. */
export const CAST_TARGETS: Readonly<Record<number, string>> = {
  1: "float32",
  6: "int32",
  7: "int64",
  11: "float64",
};

/** The tensor types cast from here (integers, bool, float32, float64). */
const NUMERIC = new Set(["float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]);

/** Whether a cast from `from` to `to` (tensor types) is done here. */
export function castable(from: string, to: string): boolean {
  if (!NUMERIC.has(from)) return false;
  if (to === "float32" || to === "float64") return true;
  // To integers: from integers only.
  return from !== "float32" && from !== "float64";
}

/** Casts a tensor (see {@link castable}). */
export function cast(t: WireTensor, to: string): WireTensor {
  if (t.type === to) return t;
  const data = t.data as Exclude<WireTensor["data"], string[]>;
  if (t.type === "int64") return { type: to, data: fromInt64(data as BigInt64Array, to), dims: t.dims };
  const numbers = data as Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
  if (to === "float32") return { type: to, data: Float32Array.from(numbers), dims: t.dims };
  if (to === "float64") return { type: to, data: Float64Array.from(numbers), dims: t.dims };
  if (to === "int32") return { type: to, data: Int32Array.from(numbers), dims: t.dims };
  return { type: to, data: BigInt64Array.from(numbers, (v) => BigInt(v)), dims: t.dims };
}

function fromInt64(data: BigInt64Array, to: string): Float32Array | Float64Array | Int32Array {
  const n = data.length;
  // The halves of each value: exact in a double while the high half is within +-2^21 (|v| < 2^53).
  const halves = new Int32Array(data.buffer, data.byteOffset, 2 * n);
  if (to === "int32") {
    // static_cast<int32_t>: the low 32 bits.
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = halves[2 * i]!;
    return out;
  }
  const out = to === "float32" ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const high = halves[2 * i + 1]!;
    if (high >= -0x200000 && high < 0x200000) out[i] = high * 4294967296 + (halves[2 * i]! >>> 0);
    else out[i] = to === "float32" ? float32Of(data[i]!) : Number(data[i]!);
  }
  return out;
}

/** An int64 beyond 2^53 as the nearest float32 (ties to even), in one rounding (not through a double). */
export function float32Of(v: bigint): number {
  const negative = v < 0n;
  const a = negative ? -v : v;
  const shift = BigInt(a.toString(2).length - 24);
  if (shift <= 0n) return negative ? -Number(a) : Number(a);
  let m = a >> shift;
  const rest = a - (m << shift);
  const half = 1n << (shift - 1n);
  if (rest > half || (rest === half && (m & 1n) === 1n)) m += 1n;
  // m has at most 25 bits and the scale is a power of two: the product is exact.
  const value = Number(m) * 2 ** Number(shift);
  return negative ? -value : value;
}
