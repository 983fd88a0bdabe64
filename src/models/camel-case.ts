/** Config keys (snake_case, as MLflow and the reference name them) mapped to the TypeScript API's camelCase. */

/** `intra_op_num_threads` -> `intraOpNumThreads`. */
export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

/** A config object's type with camelCase keys (optional keys stay optional). */
export type Camelized<T> = { [K in keyof T as K extends string ? CamelCase<K> : K]: T[K] };

/**
 * A config object with camelCase keys: what the config boundary hands the TypeScript API.
 *
 * @example
 * ```ts
 * camelized({ engine_threads: 2 }); // { engineThreads: 2 }
 * ```
 */
export function camelized<T extends object>(config: T): Camelized<T> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [
      key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
      value,
    ]),
  ) as Camelized<T>;
}
