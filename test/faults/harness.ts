/**
 * The fault corpus' harness: each case runs the CLI as a new user would, in a fresh copy of the example
 * (its data, registry and configs) with a HOME and TMPDIR of its own, and reports what it printed and
 * what changed on disk.
 */
import { spawn } from "node:child_process";
import { cpSync, lstatSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { BIKES, ROOT, tempDir } from "../helpers.js";

/** A fresh copy of the example to run a case in. */
export interface Workspace {
  /** The working directory: `examples/bikes/...` as in the repository. */
  readonly cwd: string;
  /** HOME, TMPDIR and XDG_CACHE_HOME of the run: nothing may appear in them. */
  readonly home: string;
  readonly tmp: string;
  readonly cache: string;
  /** The example folder inside cwd. */
  readonly bikes: string;
  /** The README's config, relative to cwd. */
  readonly config: string;
}

/** What a case's run did. */
export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Paths (relative to cwd) that were added, changed or removed by the run. */
  readonly changed: readonly string[];
  /** Files left in HOME, TMPDIR and the cache. */
  readonly leftovers: readonly string[];
}

/** A new workspace under `root`. */
export function workspace(root = tempDir("mlbatch-fault-")): Workspace {
  const cwd = join(root, "work");
  const bikes = join(cwd, "examples", "bikes");
  mkdirSync(join(cwd, "examples"), { recursive: true });
  cpSync(BIKES, bikes, { recursive: true, filter: (source) => !source.includes(`${BIKES}/outputs`) });
  const ws = {
    cwd,
    bikes,
    home: join(root, "home"),
    tmp: join(root, "tmp"),
    cache: join(root, "cache"),
    config: "examples/bikes/confs/inference.yaml",
  };
  for (const folder of [ws.home, ws.tmp, ws.cache]) mkdirSync(folder);
  return ws;
}

/** Every path under a folder with its size and modification time (links as links). */
export function snapshot(folder: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = lstatSync(path);
    const kind = info.isSymbolicLink() ? "link" : info.isDirectory() ? "dir" : "file";
    entries.set(relative(folder, path), kind === "dir" ? kind : `${kind}:${info.size}:${info.mtimeMs}`);
  }
  return entries;
}

function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed: string[] = [];
  for (const [path, what] of after) if (before.get(path) !== what) changed.push(path);
  for (const path of before.keys()) if (!after.has(path)) changed.push(`-${path}`);
  return changed.sort();
}

/** Options of {@link runCli}. */
export interface RunOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Called with the child and its stderr so far, on each stderr chunk (to send signals at a moment). */
  readonly onStderr?: (child: ReturnType<typeof spawn>, stderr: string) => void;
  readonly timeoutMs?: number;
}

/** Runs `mlbatch <args>` in the workspace and reports the outcome. */
export function runCli(ws: Workspace, args: readonly string[], options: RunOptions = {}): Promise<Run> {
  const before = snapshot(ws.cwd);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: ws.home,
    TMPDIR: ws.tmp,
    XDG_CACHE_HOME: ws.cache,
    ...options.env,
  };
  const child = spawn(process.execPath, [join(ROOT, "bin", "mlbatch.js"), ...args], {
    cwd: ws.cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk;
    options.onStderr?.(child, stderr);
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      const leftovers = [ws.home, ws.tmp, ws.cache].flatMap((folder) =>
        [...snapshot(folder).entries()]
          .filter(([, what]) => what !== "dir")
          .map(([path]) => join(folder, path)),
      );
      resolve({ code, stdout, stderr, changed: changes(before, snapshot(ws.cwd)), leftovers });
    });
  });
}

/** How many times `text` occurs in `within`. */
export function occurrences(within: string, text: string): number {
  return text === "" ? 0 : within.split(text).length - 1;
}

/** The text of a file in the workspace. */
export function read(ws: Workspace, path: string): string {
  return readFileSync(join(ws.cwd, path), "utf8");
}
