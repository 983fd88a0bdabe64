import * as z from "zod";
import { BuiltinLoader, BuiltinLoaderConfig } from "./builtin-loader.js";
import { CustomLoader, CustomLoaderConfig } from "./custom-loader.js";
import type { Loader } from "./loader.js";

export type { Loader } from "./loader.js";

/** Every loader KIND. */
export const LoaderKind = z.discriminatedUnion("KIND", [CustomLoaderConfig, BuiltinLoaderConfig]);
export type LoaderKind = z.infer<typeof LoaderKind>;

const FACTORIES: { [K in LoaderKind["KIND"]]: (config: Extract<LoaderKind, { KIND: K }>) => Loader } = {
  CustomLoader: ({ KIND: _, ...options }) => new CustomLoader(options),
  BuiltinLoader: ({ KIND: _, ...options }) => new BuiltinLoader(options),
};

/** Builds the loader a config describes. */
export function createLoader(config: LoaderKind): Loader {
  return (FACTORIES[config.KIND] as (c: LoaderKind) => Loader)(config);
}
