/** A reader of skops files that never executes code: see {@link decodeSkops}. */
export { decodeSkops, SKOPS_PROTOCOL, type SkopsFile } from "./decode.js";
export type { NdArray } from "./npy.js";
export * from "./values.js";
