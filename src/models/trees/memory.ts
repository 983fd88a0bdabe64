/** The shared WebAssembly memory a forest and its batches live in, seen by every engine thread. */

/** Bytes of a WebAssembly page. */
export const PAGE = 65536;

/** The WebAssembly API used here (TypeScript's ES libs do not declare it). */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}

export const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object, imports: object) => { readonly exports: object };
    };
  }
).WebAssembly;

/** Rounds a byte offset up to a cache line. */
export function align(offset: number): number {
  return (offset + 63) & ~63;
}

/** Where a forest's arrays are in the shared memory (byte offsets), and its sizes. */
export interface Placed {
  readonly layout: number;
  readonly aggregate: number;
  readonly canonical: boolean;
  readonly nTargets: number;
  readonly nTrees: number;
  readonly nodeCount: number;
  readonly leafCount: number;
  readonly weightCount: number;
  readonly nodes: number;
  readonly flags: number;
  readonly roots: number;
  readonly depths: number;
  readonly leafStart: number;
  readonly leafTargets: number;
  readonly leafWeights: number;
  readonly members: number;
  readonly memberCount: number;
  /** The first byte after the forest: batches go there. */
  readonly end: number;
}

/** Where a forest's first array starts: the bytes below are the WebAssembly module's (its static data). */
export const FOREST_START = 1024;

/**
 * A new shared memory with room for arrays of the given byte sizes, in order, each cache-line aligned;
 * returns it and the arrays' offsets.
 */
export function allocate(sizes: readonly number[]): { memory: WasmMemory; offsets: number[]; end: number } {
  let at = FOREST_START;
  const offsets = sizes.map((size) => {
    const start = at;
    at = align(at + size);
    return start;
  });
  // The maximum only reserves address space (4 GiB, so batches can grow the memory).
  const memory = new Wasm.Memory({ initial: Math.ceil(at / PAGE) + 16, maximum: 65536, shared: true });
  return { memory, offsets, end: at };
}
