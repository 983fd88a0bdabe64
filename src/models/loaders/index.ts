import * as z from "zod";
import { BuiltinLoader, BuiltinLoaderConfig } from "./builtin-loader.js";
import { CustomLoader, CustomLoaderConfig } from "./custom-loader.js";
import type { Loader } from "./loader.js";
import { loaderOptions } from "./loader-options.js";

export type { Loader } from "./loader.js";

/** Every loader KIND. */
export const LoaderKind = z.discriminatedUnion("KIND", [CustomLoaderConfig, BuiltinLoaderConfig]);
export type LoaderKind = z.infer<typeof LoaderKind>;

// The config boundary: snake_case keys become the TypeScript API's camelCase here, once.
const FACTORIES: { [K in LoaderKind["KIND"]]: (config: Extract<LoaderKind, { KIND: K }>) => Loader } = {
  CustomLoader: ({ KIND: _, ...options }) => new CustomLoader(loaderOptions(options)),
  BuiltinLoader: ({ KIND: _, ...options }) => new BuiltinLoader(loaderOptions(options)),
};

/** Builds the loader a config describes. */
export function createLoader(config: LoaderKind): Loader {
  return (FACTORIES[config.KIND] as (c: LoaderKind) => Loader)(config);
}
