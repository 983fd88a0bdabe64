/** The vocabulary of staged outputs, local or on an object store. */
import * as z from "zod";

/** What a writer does when its output already exists: refuse (`error`) or replace it (`overwrite`). */
export const WriteMode = z.union([z.literal("error"), z.literal("overwrite")]);
export type WriteMode = z.infer<typeof WriteMode>;

/** What an output is: one file, or a folder of part files. */
export type OutputShape = "file" | "folder";

/** An output written under a temporary name beside its path: not visible until committed. */
export interface StagedOutput {
  /** Where the output goes. */
  readonly path: string;
  /** How many rows it holds. */
  readonly rows: number;
  /**
   * Moves the output into place in one rename (readers never see part of it).
   *
   * @throws MlbatchError `E_WRITE` when the path exists and the mode is `error`; nothing is then changed
   */
  commit(): Promise<void>;
  /** Removes the temporary output. */
  discard(): Promise<void>;
}
