/**
 * Repairs what dead runs left beside outputs: a run killed while it wrote (kill -9, an evicted pod, a lost
 * node) leaves scratch files and folders that no code of its own can remove. Only entries whose owner is
 * a process of this host that no longer exists are touched, so a live run beside is never disturbed.
 */
import { lstat, readdir, readlink, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseScratch } from "../../scratch.js";

/** The plan file of a sharded run's staging folder (shard/layout.ts). */
const SHARD_PLAN = "_plan.json";

/** What a sweep did. */
export interface Swept {
  /** Scratch entries of dead runs removed. */
  readonly removed: readonly string[];
  /** Outputs a run died while replacing, put back from their aside copy. */
  readonly restored: readonly string[];
}

/**
 * Sweeps the scratch entries of dead runs in `folder`: temporary files and unpublished parts folders are
 * removed; an output that was moved aside (`old`) is put back when its path is empty (the run died between
 * the two renames of a replace), else removed.
 *
 * @example
 * ```ts
 * const { removed, restored } = await sweepLeftovers("outputs");
 * ```
 */
export async function sweepLeftovers(folder: string): Promise<Swept> {
  const names = await readdir(folder).catch(() => [] as string[]);
  const removed: string[] = [];
  const restored: string[] = [];
  // Asides first: an output put back may be a link that keeps its parts folder alive.
  const entries = names
    .map((name) => ({ name, entry: parseScratch(name) }))
    .filter((e) => e.entry !== undefined && !e.entry.live)
    .sort((a, b) => Number(a.entry?.kind !== "old") - Number(b.entry?.kind !== "old"));
  for (const { name, entry } of entries) {
    if (entry === undefined) continue;
    const path = join(folder, name);
    const output = join(folder, entry.output);
    try {
      if (entry.kind === "old" && (await lstat(output).catch(() => undefined)) === undefined) {
        await rename(path, output);
        restored.push(output);
        continue;
      }
      if (entry.kind === "parts" && (await readlink(output).catch(() => undefined)) === name) continue;
      // A sharded run's finished staging folder, caught between its two renames: shard/ puts it back.
      if (entry.kind === "parts" && (await lstat(join(path, SHARD_PLAN)).catch(() => undefined))) continue;
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Another run's sweep got there first.
    }
  }
  return { removed, restored };
}
