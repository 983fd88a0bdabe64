/**
 * A reader of Universal Binary JSON (draft 12) as XGBoost writes it: objects, arrays (plain, counted,
 * or typed and counted, which come back as typed arrays: XGBoost's node arrays), strings and big-endian
 * numbers. No dependency and no copy of a typed array's elements beyond one typed array.
 */

/** A parsed UBJSON value. Typed arrays hold the elements of optimized (`$` type) arrays. */
export type UbjValue =
  | null
  | boolean
  | number
  | string
  | UbjValue[]
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | { [key: string]: UbjValue };

/**
 * Parses a UBJSON document.
 *
 * @throws Error with the byte offset when the document is malformed or uses an unknown marker
 */
export function parseUbjson(bytes: Uint8Array): UbjValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`UBJSON: ${what} at byte ${at}`);
  };
  const need = (n: number) => {
    if (at + n > bytes.length) fail("unexpected end of data");
  };
  const marker = (): number => {
    need(1);
    let m = bytes[at++]!;
    while (m === 0x4e /* N no-op */) {
      need(1);
      m = bytes[at++]!;
    }
    return m;
  };
  const scalar = (m: number): number => {
    switch (m) {
      case 0x69 /* i */:
        need(1);
        return view.getInt8(at++);
      case 0x55 /* U */:
        need(1);
        return view.getUint8(at++);
      case 0x49 /* I */:
        need(2);
        at += 2;
        return view.getInt16(at - 2);
      case 0x6c /* l */:
        need(4);
        at += 4;
        return view.getInt32(at - 4);
      case 0x4c /* L */:
        {
          need(8);
          at += 8;
          return Number(view.getBigInt64(at - 8));
        }
      case 0x64 /* d */:
        need(4);
        at += 4;
        return view.getFloat32(at - 4);
      case 0x44 /* D */:
        need(8);
        at += 8;
        return view.getFloat64(at - 8);
      default:
        return fail(`marker ${String.fromCharCode(m)} is not a number`);
    }
  };
  const count = (): number => {
    const n = scalar(marker());
    if (!Number.isInteger(n) || n < 0) fail(`bad length ${n}`);
    return n;
  };
  const text = (n: number): string => {
    need(n);
    const s = new TextDecoder().decode(bytes.subarray(at, at + n));
    at += n;
    return s;
  };
  const typed = (type: number, n: number): UbjValue => {
    const make = <T>(size: number, Ctor: new (n: number) => T, get: (o: number) => number): T => {
      need(size * n);
      const out = new Ctor(n) as unknown as { [i: number]: number };
      for (let i = 0; i < n; i++) out[i] = get(at + i * size);
      at += size * n;
      return out as unknown as T;
    };
    switch (type) {
      case 0x64:
        return make(4, Float32Array, (o) => view.getFloat32(o));
      case 0x44:
        return make(8, Float64Array, (o) => view.getFloat64(o));
      case 0x6c:
        return make(4, Int32Array, (o) => view.getInt32(o));
      case 0x49:
        return make(2, Int16Array, (o) => view.getInt16(o));
      case 0x69:
        return make(1, Int8Array, (o) => view.getInt8(o));
      case 0x55:
        return make(1, Uint8Array, (o) => view.getUint8(o));
      case 0x4c:
        return make(8, Float64Array, (o) => Number(view.getBigInt64(o)));
      default: {
        const out: UbjValue[] = [];
        for (let i = 0; i < n; i++) out.push(value(type));
        return out;
      }
    }
  };
  const value = (m: number): UbjValue => {
    switch (m) {
      case 0x5a /* Z */:
        return null;
      case 0x54 /* T */:
        return true;
      case 0x46 /* F */:
        return false;
      case 0x53 /* S */:
      case 0x48 /* H */:
        return text(count());
      case 0x43 /* C */:
        return text(1);
      case 0x5b /* [ */:
        {
          let type = 0;
          if (bytes[at] === 0x24 /* $ */) {
            at++;
            type = marker();
            if (bytes[at] !== 0x23) fail("a typed array without count");
          }
          if (bytes[at] === 0x23 /* # */) {
            at++;
            const n = count();
            return type === 0 ? counted(n) : typed(type, n);
          }
          const out: UbjValue[] = [];
          for (;;) {
            const e = marker();
            if (e === 0x5d /* ] */) return out;
            out.push(value(e));
          }
        }
      case 0x7b /* { */:
        {
          const out: { [key: string]: UbjValue } = {};
          let type = 0;
          if (bytes[at] === 0x24) {
            at++;
            type = marker();
          }
          if (bytes[at] === 0x23) {
            at++;
            const n = count();
            for (let i = 0; i < n; i++) {
              const key = text(count());
              out[key] = value(type === 0 ? marker() : type);
            }
            return out;
          }
          for (;;) {
            const e = marker();
            if (e === 0x7d /* } */) return out;
            at--;
            const key = text(count());
            out[key] = value(marker());
          }
        }
      default:
        return scalar(m);
    }
  };
  const counted = (n: number): UbjValue[] => {
    const out: UbjValue[] = [];
    for (let i = 0; i < n; i++) out.push(value(marker()));
    return out;
  };
  return value(marker());
}
