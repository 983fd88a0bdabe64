/**
 * numpy's `.npy` format (versions 1 to 3), read into typed arrays: numbers as float64 (booleans 0/1),
 * strings as strings, structured arrays (a tree's `nodes`) as one float64 array per field.
 */

/** A numpy array: C-order values and shape; a structured array has `fields` instead of `values`. */
export interface NdArray {
  readonly kind: "ndarray";
  /** numpy's dtype string of a plain array (`<f8`, `|b1`, `<U5`), or `struct`. */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Numbers (every numeric dtype) or strings (`U` and `S` dtypes, object arrays of strings). */
  readonly values: Float64Array | readonly string[];
  /** A structured array's fields, by name. */
  readonly fields?: ReadonlyMap<string, Float64Array>;
}

/** A field of a record: where it is in the item, and how to read one value. */
interface Field {
  readonly name: string;
  readonly offset: number;
  readonly read: Reader;
  readonly size: number;
}

type Reader = (view: DataView, at: number) => number | string;

/**
 * Parses the bytes of a `.npy` file.
 *
 * @throws Error for a damaged header or a dtype mlbatch does not read (complex, datetime, object, nested)
 */
export function parseNpy(bytes: Uint8Array): NdArray {
  const magic = String.fromCharCode(...bytes.subarray(1, 6));
  if (bytes[0] !== 0x93 || magic !== "NUMPY") throw new Error("not a .npy file (bad magic)");
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major < 1 || major > 3) throw new Error(`.npy format version ${major} is not one of 1, 2, 3`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + headerLength),
  );
  const header = new Literal(text).value();
  if (!isRecord(header)) throw new Error(`.npy header is not a dict: ${text.trim()}`);
  const { descr, fortran_order: fortran, shape } = header;
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === "number")) {
    throw new Error(`.npy header has no shape: ${text.trim()}`);
  }
  const dims = shape as number[];
  const count = dims.reduce((a, b) => a * b, 1);
  const data = start + headerLength;
  if (typeof descr === "string") {
    const { read, size } = scalar(descr);
    if (data + count * size > bytes.length) throw new Error(".npy data is truncated");
    const numeric = !/^[<>|=]?[US]/.test(descr);
    const values: (number | string)[] | Float64Array = numeric ? new Float64Array(count) : [];
    for (let i = 0; i < count; i++) values[i] = read(view, data + i * size) as never;
    const ordered = fortran === true && dims.length > 1 ? toC(values, dims) : values;
    return { kind: "ndarray", dtype: descr, shape: dims, values: ordered as Float64Array | string[] };
  }
  if (!Array.isArray(descr)) throw new Error(`.npy dtype ${JSON.stringify(descr)} is not understood`);
  if (fortran === true && dims.length > 1) throw new Error("Fortran-ordered structured arrays are not read");
  const fields: Field[] = [];
  let offset = 0;
  for (const item of descr) {
    if (
      !Array.isArray(item) ||
      typeof item[0] !== "string" ||
      typeof item[1] !== "string" ||
      item.length > 2
    ) {
      throw new Error(`structured dtype field ${JSON.stringify(item)} is not read (nested or sub-array)`);
    }
    const { read, size } = item[0] === "" ? { read: () => 0, size: voidSize(item[1]) } : scalar(item[1]);
    if (item[0] !== "") fields.push({ name: item[0], offset, read, size });
    offset += size;
  }
  if (data + count * offset > bytes.length) throw new Error(".npy data is truncated");
  const out = new Map<string, Float64Array>();
  for (const field of fields) {
    const column = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const v = field.read(view, data + i * offset + field.offset);
      if (typeof v !== "number") throw new Error(`structured field ${field.name} holds strings`);
      column[i] = v;
    }
    out.set(field.name, column);
  }
  return { kind: "ndarray", dtype: "struct", shape: dims, values: new Float64Array(0), fields: out };
}

/** How to read one value of a plain dtype (`<f8`, `|u1`, `>i4`, `<U7`, `|S3`, `|b1`). */
function scalar(descr: string): { read: Reader; size: number } {
  const match = /^([<>|=]?)([biufUS])(\d+)$/.exec(descr);
  if (match === null) throw new Error(`numpy dtype ${descr} is not read (complex, datetime, object or void)`);
  const little = match[1] !== ">";
  const kind = match[2]!;
  const n = Number(match[3]);
  if (kind === "U") {
    return {
      size: 4 * n,
      read: (v, at) => {
        let s = "";
        for (let k = 0; k < n; k++) {
          const c = v.getUint32(at + 4 * k, little);
          if (c === 0) break;
          s += String.fromCodePoint(c);
        }
        return s;
      },
    };
  }
  if (kind === "S") {
    return {
      size: n,
      read: (v, at) => {
        let s = "";
        for (let k = 0; k < n && v.getUint8(at + k) !== 0; k++) s += String.fromCharCode(v.getUint8(at + k));
        return s;
      },
    };
  }
  const readers: Record<string, Reader | undefined> = {
    b1: (v, at) => (v.getUint8(at) !== 0 ? 1 : 0),
    i1: (v, at) => v.getInt8(at),
    u1: (v, at) => v.getUint8(at),
    i2: (v, at) => v.getInt16(at, little),
    u2: (v, at) => v.getUint16(at, little),
    i4: (v, at) => v.getInt32(at, little),
    u4: (v, at) => v.getUint32(at, little),
    i8: (v, at) => Number(v.getBigInt64(at, little)),
    u8: (v, at) => Number(v.getBigUint64(at, little)),
    f2: (v, at) => half(v.getUint16(at, little)),
    f4: (v, at) => v.getFloat32(at, little),
    f8: (v, at) => v.getFloat64(at, little),
  };
  const read = readers[`${kind}${n}`];
  if (read === undefined) throw new Error(`numpy dtype ${descr} is not read`);
  return { read, size: n };
}

function voidSize(descr: string): number {
  const match = /^\|V(\d+)$/.exec(descr);
  if (match === null) throw new Error(`padding field of dtype ${descr} is not understood`);
  return Number(match[1]);
}

function half(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Fortran-ordered values in C order. */
function toC<T extends ArrayLike<unknown>>(values: T, dims: readonly number[]): T {
  const n = values.length;
  const out = (values instanceof Float64Array ? new Float64Array(n) : new Array(n)) as unknown as {
    [i: number]: unknown;
  };
  const index = new Array<number>(dims.length).fill(0);
  for (let c = 0; c < n; c++) {
    // c walks C order; the Fortran position of the same index has the first dimension fastest.
    let f = 0;
    for (let d = dims.length - 1; d >= 0; d--) f = f * dims[d]! + index[d]!;
    out[c] = values[f];
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++index[d]! < dims[d]!) break;
      index[d] = 0;
    }
  }
  return out as unknown as T;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A reader of the Python literals of a `.npy` header: dicts, lists, tuples, strings, numbers, booleans. */
class Literal {
  private at = 0;
  constructor(private readonly text: string) {}

  value(): unknown {
    this.skip();
    const c = this.text[this.at];
    if (c === "{") return this.dict();
    if (c === "[" || c === "(") return this.sequence(c === "[" ? "]" : ")");
    if (c === "'" || c === '"') return this.string(c);
    const word = /^(True|False|None|-?\d+(\.\d*)?(e[+-]?\d+)?L?)/.exec(this.text.slice(this.at));
    if (word === null)
      throw new Error(`.npy header is not understood at "${this.text.slice(this.at, this.at + 20)}"`);
    this.at += word[0].length;
    if (word[0] === "True") return true;
    if (word[0] === "False") return false;
    if (word[0] === "None") return null;
    return Number(word[0].replace(/L$/, ""));
  }

  private dict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.at++;
    for (;;) {
      this.skip();
      if (this.text[this.at] === "}") break;
      const key = this.value();
      this.skip();
      if (this.text[this.at++] !== ":") throw new Error(".npy header: a dict key has no value");
      out[String(key)] = this.value();
      this.skip();
      if (this.text[this.at] === ",") this.at++;
    }
    this.at++;
    return out;
  }

  private sequence(close: string): unknown[] {
    const out: unknown[] = [];
    this.at++;
    for (;;) {
      this.skip();
      if (this.text[this.at] === close) break;
      out.push(this.value());
      this.skip();
      if (this.text[this.at] === ",") this.at++;
    }
    this.at++;
    return out;
  }

  private string(quote: string): string {
    const end = this.text.indexOf(quote, this.at + 1);
    if (end < 0) throw new Error(".npy header: a string is not closed");
    const s = this.text.slice(this.at + 1, end);
    this.at = end + 1;
    return s;
  }

  private skip(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++;
  }
}
