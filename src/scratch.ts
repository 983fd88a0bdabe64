/**
 * Scratch paths: every temporary file or folder mlbatch makes on disk is named after the process that
 * owns it, so that a later run can tell the leftovers of a dead run (kill -9, a lost node) from the work
 * of a live one, and remove them safely; and the live ones are tracked, so that a signal can remove them
 * before the process exits.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";

/**
 * What a scratch path beside an output is: `tmp` a file or folder being written, `old` an output moved
 * aside while it is replaced, `parts` a folder of part files (published through a symlink at the output
 * path, see publish.ts).
 */
export type ScratchKind = "tmp" | "old" | "parts";

/** The host, hashed: machines (and containers) sharing a volume do not judge each other's processes. */
const HOST = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);

const NAME = /^\.mlbatch-(tmp|old|parts)-([0-9a-f]{8})-(\d+)-[0-9a-f]{8}-(.+)$/;
/** Names written by mlbatch 0.1 before the host was part of them. */
const LEGACY = /^\.mlbatch-(tmp|old)-(\d+)-[0-9a-f]{8}-(.+)$/;

/** A scratch entry beside an output: its kind, its owner, and the output name it belongs to. */
export interface ScratchEntry {
  readonly kind: ScratchKind;
  /** True when its owner may still be running (this host and a live pid, or another host). */
  readonly live: boolean;
  /** The name of the output it is for, in the same folder. */
  readonly output: string;
}

/**
 * A new hidden name beside `path`, ending like it so that DuckDB infers the same format and compression
 * (`.csv.gz`): `.mlbatch-<kind>-<host>-<pid>-<random>-<name>`.
 *
 * @example
 * ```ts
 * scratchPath("out/predictions.parquet", "tmp"); // out/.mlbatch-tmp-3f2a9c1b-4242-8e0f11aa-predictions.parquet
 * ```
 */
export function scratchPath(path: string, kind: ScratchKind): string {
  return join(dirname(path), `.mlbatch-${kind}-${HOST}-${process.pid}-${random()}-${basename(path)}`);
}

/** What a name in an output's folder is, when it is one of mlbatch's scratch names. */
export function parseScratch(name: string): ScratchEntry | undefined {
  const match = NAME.exec(name);
  if (match !== null) {
    const [, kind, host, pid, output] = match as unknown as [string, ScratchKind, string, string, string];
    return { kind, live: host !== HOST || isAlive(Number(pid)), output };
  }
  const legacy = LEGACY.exec(name);
  if (legacy !== null) {
    const [, kind, pid, output] = legacy as unknown as [string, ScratchKind, string, string];
    return { kind, live: isAlive(Number(pid)), output };
  }
  return undefined;
}

/** A new name for a process-owned folder under `parent` (e.g. DuckDB's spill folder in TMPDIR). */
export function ownedFolder(parent: string, prefix: string): string {
  return join(parent, `${prefix}-${HOST}-${process.pid}-${random()}`);
}

/** Whether a folder named by {@link ownedFolder} with this prefix belongs to a dead process of this host. */
function isDeadOwned(name: string, prefix: string): boolean {
  const match = new RegExp(`^${prefix}-([0-9a-f]{8})-(\\d+)-[0-9a-f]{8}$`).exec(name);
  return match !== null && match[1] === HOST && !isAlive(Number(match[2]));
}

/** How long a folder of mlbatch 0.1 (named without its owner) must have been left alone to be removed. */
const LEGACY_IDLE_MS = 60 * 60 * 1000;

/**
 * Removes the folders named by {@link ownedFolder} with this prefix whose process is dead, and those
 * mlbatch 0.1 made (`<prefix>-XXXXXX`, no owner in the name) once nothing in them changed for an hour.
 */
export function sweepDeadOwned(parent: string, prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const legacy = new RegExp(`^${prefix}-[A-Za-z0-9]{6}$`);
  for (const name of names) {
    if (!isDeadOwned(name, prefix) && !(legacy.test(name) && idle(join(parent, name)))) continue;
    try {
      rmSync(join(parent, name), { recursive: true, force: true });
    } catch {
      // Another run's sweep got there first, or it is not ours to remove.
    }
  }
}

/** True unless the process is known to be gone (a process of another user counts as alive). */
export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

const tracked = new Set<string>();

/**
 * Records a scratch path this process made, so that {@link removeTrackedSync} removes it if the process
 * has to exit before the code that made it cleans up.
 *
 * @returns a function that forgets it again (call it once the path is gone or published)
 */
export function track(path: string): () => void {
  tracked.add(path);
  return () => {
    tracked.delete(path);
  };
}

/** Removes every tracked scratch path now, synchronously: the last thing before a forced exit. */
export function removeTrackedSync(): void {
  for (const path of tracked) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // Nothing more can be done on the way out; the next run's sweep removes it.
    }
  }
  tracked.clear();
}

/** True when a folder and everything directly in it were last changed over {@link LEGACY_IDLE_MS} ago. */
function idle(folder: string): boolean {
  try {
    const paths = [folder, ...readdirSync(folder).map((name) => join(folder, name))];
    return paths.every((path) => Date.now() - statSync(path).mtimeMs > LEGACY_IDLE_MS);
  } catch {
    return false;
  }
}

function random(): string {
  return randomBytes(4).toString("hex");
}
