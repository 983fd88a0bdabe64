/**
 * What a run's spool holds: the bytes under its scratch folders on disk (blocks, so that a sparse
 * stand-in counts what it holds), sampled while a CLI run goes.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers.js";

/** Bytes the files under a folder hold on disk (their blocks: a sparse stand-in counts what it holds). */
export function heldBytes(folder: string): number {
  let names: (string | Buffer)[];
  try {
    names = readdirSync(folder, { recursive: true });
  } catch {
    return 0; // Removed while listed: the run ended, or a part was released.
  }
  let total = 0;
  for (const name of names) {
    try {
      const info = statSync(join(folder, String(name)));
      if (info.isFile()) total += info.blocks * 512;
    } catch {
      // Removed while listed: a part released.
    }
  }
  return total;
}

/** Runs the CLI with `TMPDIR` at `tmp`, sampling what its spool folders hold every 10 ms. */
export async function runSampled(args: string[], env: Record<string, string>, tmp: string) {
  mkdirSync(tmp, { recursive: true });
  const child = spawn(process.execPath, [join(ROOT, "bin", "mlbatch.js"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, TMPDIR: tmp },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  let peak = 0;
  const sampler = setInterval(() => {
    for (const name of readdirSync(tmp)) {
      if (name.startsWith("mlbatch-spool-")) peak = Math.max(peak, heldBytes(join(tmp, name)));
    }
  }, 10);
  const code = await new Promise<number | null>((done) => child.on("close", done));
  clearInterval(sampler);
  return { code, stderr, peak };
}
