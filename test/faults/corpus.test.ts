/**
 * The fault corpus (cases.ts), each case run through the CLI in a fresh copy of the example: the exit
 * code, the error's code and message, a failure notification once the job has started, the error once
 * per channel, and nothing new left on disk, in HOME, TMPDIR or the cache.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeDir, reportedError, tempDir } from "../helpers.js";
import { CASES, commonData, type FaultCase, stopHolders } from "./cases.js";
import { occurrences, runCli, workspace } from "./harness.js";

afterAll(stopHolders);

/** A stretch of the message with no character JSON escapes, to count it in raw output. */
function snippet(message: string): string {
  const runs = message.match(/[^"\\\n]{12,}/g) ?? [message];
  return runs.reduce((a, b) => (b.length > a.length ? b : a)).slice(0, 60);
}

/** The paths a case may change: those it names, and the folders above them. */
function allowed(c: FaultCase): Set<string> {
  const paths = new Set<string>();
  for (let path of c.written ?? []) {
    while (path !== "." && path !== "") {
      paths.add(path);
      path = dirname(path);
    }
  }
  return paths;
}

describe("the fault corpus", () => {
  it("has at least 60 cases of every kind", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    const kinds = new Set(CASES.map((c) => c.kind));
    expect([...kinds].sort()).toEqual([
      "config",
      "data",
      "model",
      "output",
      "registry",
      "secrets",
      "signals",
    ]);
  });

  it.each(CASES.map((c) => [`${c.kind}: ${c.name}`, c] as const))("%s", async (_, c) => {
    const root = tempDir("mlbatch-fault-");
    try {
      const ws = workspace(root);
      await commonData(ws);
      await c.setup?.(ws);
      const args = c.args?.(ws) ?? ["run", ws.config, ...(c.extras === undefined ? [] : ["-e", c.extras])];
      let sent = false;
      const run = await runCli(ws, args, {
        ...(c.env === undefined ? {} : { env: c.env }),
        onStderr: (child, stderr) => {
          if (c.signal === undefined || sent || !stderr.includes(c.signal.when)) return;
          sent = true;
          for (const signal of c.signal.send) child.kill(signal);
        },
      });
      const context = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
      expect(run.code, context).toBe(c.expect.exit);
      if (c.signal !== undefined) expect(sent, "the signal was sent").toBe(true);

      const failed = c.expect.code !== undefined;
      if (failed) {
        const reported = reportedError(run.stderr);
        expect(reported, context).toContain(`[${c.expect.code}]`);
        if (c.expect.says !== undefined) expect(reported, context).toMatch(c.expect.says);
        // Once per channel: stderr holds the message once; stdout holds the notification once.
        const message = reported.replace(/^error \[\w+\]( \(step: \w+\))?: /, "");
        expect(occurrences(run.stderr, snippet(message)), context).toBe(1);
        const notified = c.expect.notified ?? c.expect.exit !== 2;
        const line = `Inference Job Failed: [${c.expect.code}]`;
        expect(occurrences(run.stdout, line), context).toBe(notified ? 1 : 0);
        expect(run.stderr, context).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
      } else {
        expect(run.stdout, context).toContain("Inference Job Finished");
        if (c.expect.says !== undefined) expect(run.stderr, context).toMatch(c.expect.says);
      }

      // Nothing new on disk but what the case writes; nothing in HOME, TMPDIR or the cache.
      const permitted = allowed(c);
      expect(
        run.changed.filter((path) => !permitted.has(path)),
        context,
      ).toEqual([]);
      expect(run.leftovers, context).toEqual([]);

      if (c.secret !== undefined) {
        expect(run.stdout + run.stderr).not.toContain(c.secret);
        for (const path of c.written ?? []) {
          expect(readFileSync(join(ws.cwd, path)).toString("latin1")).not.toContain(c.secret);
        }
      }
    } finally {
      removeDir(root);
    }
  });
});
