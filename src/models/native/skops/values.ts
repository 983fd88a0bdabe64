import type { NdArray } from "./npy.js";

export type { NdArray } from "./npy.js";

/**
 * A value of a skops file, decoded into plain data: nothing in it was constructed from the file's class
 * names (an object is its dotted class name and its attributes, for the reader to judge).
 */
export type SkValue =
  | null
  | boolean
  | number
  | string
  | readonly SkValue[]
  | SkDict
  | NdArray
  | SkObjectArray
  | SkObject
  | SkName
  | SkSlice
  | SkPartial
  | SkMethod
  | SkBytes;

/** A dict (keys as the file writes them, as strings). */
export interface SkDict {
  readonly kind: "dict";
  readonly entries: ReadonlyMap<string, SkValue>;
}

/**
 * An object of a class: `ObjectNode` (its `__dict__` or `__getstate__` in `attrs`), `ReduceNode` and
 * `TreeNode` (`args` of its `__reduce__` and the state in `attrs`), `ConstructorFromReduceNode` (`args`).
 */
export interface SkObject {
  readonly kind: "object";
  /** The full dotted class name, `sklearn.tree._classes.DecisionTreeClassifier`. */
  readonly type: string;
  readonly attrs: SkValue | undefined;
  readonly args: SkValue | undefined;
}

/** A numpy object array of other things than strings and numbers (estimators): its items, in C order. */
export interface SkObjectArray {
  readonly kind: "objects";
  readonly shape: readonly number[];
  readonly items: readonly SkValue[];
}

/** A type, a function or a dtype, by its dotted name (`numpy.float64`, `sklearn.utils.validation.check_array`). */
export interface SkName {
  readonly kind: "type" | "function" | "dtype";
  readonly name: string;
}

/** A `slice(start, stop, step)`. */
export interface SkSlice {
  readonly kind: "slice";
  readonly start: number | null;
  readonly stop: number | null;
  readonly step: number | null;
}

/** `functools.partial(func, *args, **kwds)`. */
export interface SkPartial {
  readonly kind: "partial";
  readonly func: SkValue;
  readonly args: SkValue;
  readonly kwds: SkValue;
}

/** A bound method, `obj.func`. */
export interface SkMethod {
  readonly kind: "method";
  readonly func: string;
  readonly obj: SkValue;
}

/** `bytes` or `bytearray` content. */
export interface SkBytes {
  readonly kind: "bytes";
  readonly bytes: Uint8Array;
}

/** Whether a value is an object (of any class, or of the given dotted class name). */
export function isObject(value: SkValue | undefined, type?: string): value is SkObject {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    (value as { kind?: unknown }).kind === "object" &&
    (type === undefined || (value as SkObject).type === type)
  );
}

/** Whether a value is a dict. */
export function isDict(value: SkValue | undefined): value is SkDict {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && (value as SkDict).kind === "dict"
  );
}

/** Whether a value is a numpy array of numbers or strings (a `.npy` entry, or an object array of them). */
export function isArray(value: SkValue | undefined): value is NdArray {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    (value as NdArray).kind === "ndarray"
  );
}

/** Whether a value is a list, tuple or set. */
export function isList(value: SkValue | undefined): value is readonly SkValue[] {
  return Array.isArray(value);
}

/** A short description of a value, for messages: `a list`, `"auto"`, `sklearn.svm._classes.SVC`. */
export function describe(value: SkValue | undefined): string {
  if (value === undefined) return "nothing";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `a list of ${value.length}`;
  const v = value as Exclude<SkValue, readonly SkValue[] | null | boolean | number | string>;
  switch (v.kind) {
    case "object":
      return v.type;
    case "type":
    case "function":
    case "dtype":
      return `${v.kind} ${v.name}`;
    case "ndarray":
      return `an array of shape [${v.shape.join(", ")}]`;
    default:
      return `a ${v.kind}`;
  }
}
