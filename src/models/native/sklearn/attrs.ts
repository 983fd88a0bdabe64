import {
  describe,
  isArray,
  isDict,
  isObject,
  type NdArray,
  type SkObject,
  type SkValue,
} from "../skops/index.js";

/**
 * Why a model is not run natively: the estimator (its full dotted class name) or the attribute that
 * stops it. The loader adds the model URI and what to do.
 */
export class NotNative extends Error {
  override readonly name = "NotNative";
}

/** The tier to use for what mlbatch does not run natively. */
export const OTHER_TIER =
  "run it in a pyfunc worker (MLflow's pyfunc in Python: set the loader's pyfunc: auto, see docs/pyfunc.md), or export it to ONNX (skl2onnx) and log it with mlflow.onnx";

/** Refuses an estimator class mlbatch does not run, naming it. */
export function unsupported(type: string, what = "an estimator"): NotNative {
  return new NotNative(`${type} is not ${what} mlbatch runs natively; ${OTHER_TIER}`);
}

/** The attributes of a decoded scikit-learn object, read with messages that name the class and attribute. */
export class Attrs {
  readonly type: string;
  private readonly entries: ReadonlyMap<string, SkValue>;

  constructor(value: SkValue | undefined, what = "an estimator") {
    if (!isObject(value)) throw new NotNative(`expected ${what}, found ${describe(value)}`);
    this.type = value.type;
    this.entries = isDict(value.attrs) ? value.attrs.entries : new Map();
  }

  /** The short class name, `RandomForestRegressor`. */
  get className(): string {
    return this.type.slice(this.type.lastIndexOf(".") + 1);
  }

  /** Whether the object has the attribute. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** An attribute, or undefined. */
  get(name: string): SkValue | undefined {
    return this.entries.get(name);
  }

  /** An attribute that must be there. */
  need(name: string): SkValue {
    if (!this.entries.has(name)) throw new NotNative(`${this.type} has no attribute ${name} (is it fitted?)`);
    return this.entries.get(name)!;
  }

  /** A number attribute (a numpy scalar or one-value array too). */
  number(name: string): number {
    const v = this.need(name);
    if (typeof v === "number") return v;
    if (typeof v === "boolean") return v ? 1 : 0;
    if (isArray(v) && v.values.length === 1 && typeof v.values[0] === "number") return v.values[0];
    throw this.bad(name, "a number", v);
  }

  /** A string attribute. */
  string(name: string): string {
    const v = this.need(name);
    if (typeof v !== "string") throw this.bad(name, "a string", v);
    return v;
  }

  /** An array attribute. */
  array(name: string): NdArray {
    const v = this.need(name);
    if (!isArray(v)) throw this.bad(name, "an array", v);
    return v;
  }

  /** A numeric array's values. */
  numbers(name: string): Float64Array {
    const v = this.array(name).values;
    if (!(v instanceof Float64Array)) throw this.bad(name, "a numeric array", this.need(name));
    return v;
  }

  /** A list (or tuple) attribute. */
  list(name: string): readonly SkValue[] {
    const v = this.need(name);
    if (!Array.isArray(v)) throw this.bad(name, "a list", v);
    return v;
  }

  /** An attribute that is an object. */
  object(name: string): SkObject {
    const v = this.need(name);
    if (!isObject(v)) throw this.bad(name, "an object", v);
    return v;
  }

  /** Refuses a value of an attribute that mlbatch does not reproduce. */
  refuse(name: string, why: string): NotNative {
    return new NotNative(`${this.type} with ${name}=${describe(this.get(name))}: ${why}; ${OTHER_TIER}`);
  }

  private bad(name: string, expected: string, found: SkValue): NotNative {
    return new NotNative(`${this.type}.${name} is ${describe(found)}, not ${expected}`);
  }
}

/** A classifier's class labels (`classes_`) and the column type they are written as (numpy's dtype). */
export interface Classes {
  readonly values: readonly (number | string)[];
  readonly type: "string" | "int64" | "float64" | "bool";
}

/** The `classes_` of a classifier (LightGBM's keeps them as `_classes`). */
export function classesOf(estimator: Attrs, name = "classes_"): Classes {
  const array = estimator.array(name);
  const values = labelsOf(array);
  const kind = /^[<>|=]?([biufUSO])/.exec(array.dtype)?.[1];
  let type: Classes["type"];
  if (values.every((v) => typeof v === "string")) type = "string";
  else if (kind === "b") type = "bool";
  else if (kind === "f") type = "float64";
  else type = values.every((v) => Number.isInteger(v)) ? "int64" : "float64";
  return { values, type };
}

/** The string or numeric values of an array (class labels, categories). */
export function labelsOf(array: NdArray): readonly (number | string)[] {
  return Array.from(array.values as ArrayLike<number | string>);
}
