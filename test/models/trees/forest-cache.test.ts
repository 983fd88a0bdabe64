/** The cache of compiled forests: a hit is the compiled forest, byte for byte; anything wrong is recompiled. */
import { spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OnnxModelFile } from "../../../src/models/onnx/graph.js";
import { ForestCache, fileDigest } from "../../../src/models/trees/cache/forest-cache.js";
import { compileForest, type Forest } from "../../../src/models/trees/forest/index.js";
import { LAYOUT_VERSION } from "../../../src/models/trees/forest/layout.js";
import { FOREST_START } from "../../../src/models/trees/memory.js";
import { scratchPath } from "../../../src/scratch.js";
import { ROOT, removeDir, tempDir } from "../../helpers.js";

const FIXTURES = join(import.meta.dirname, "../../fixtures/trees");

let dir: string;
beforeEach(() => {
  dir = tempDir("mlbatch-forests-");
});
afterEach(() => removeDir(dir));

/** A cache caching every ensemble, whose debug lines are kept. */
function cache(folder = join(dir, "forests")): { cache: ForestCache; lines: string[] } {
  const lines: string[] = [];
  return { cache: new ForestCache(folder, { debug: (line) => lines.push(line) }, 0), lines };
}

function ensembleOf(file: string) {
  const node = OnnxModelFile.read(file).nodes.find((n) => n.opType.startsWith("TreeEnsemble"));
  if (node === undefined) throw new Error(`${file} has no ensemble`);
  return node;
}

/** Everything a forest is, as comparable values: its memory bytes and its description. */
function contents(forest: Forest) {
  const { labels } = forest;
  return {
    memory: Buffer.from(new Uint8Array(forest.memory.buffer, FOREST_START, forest.placed.end - FOREST_START)),
    placed: forest.placed,
    finish: { ...forest.finish, base: Array.from(forest.finish.base) },
    labels: labels === undefined ? undefined : "ints" in labels ? Array.from(labels.ints) : labels.strings,
    nFeatures: forest.nFeatures,
    nodeCount: forest.nodeCount,
    bytes: forest.bytes,
    canonical: forest.kernel.canonical,
  };
}

function entries(folder = join(dir, "forests")): string[] {
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

describe("forest cache", () => {
  it.each(["rf_reg.onnx", "rf_clf_multi.onnx", "hgb_clf_bin.onnx", "lgbm_clf_multi.onnx", "xgb_reg.onnx"])(
    "given %s compiled and cached, when loaded again, then the forest is read from the cache, byte for byte the compiled one",
    async (name) => {
      const file = join(FIXTURES, name);
      const { cache: forests, lines } = cache();
      const first = await forests.forest(file, ensembleOf(file));
      const digest = await fileDigest(file);
      expect(entries()).toEqual([`${digest}.v${LAYOUT_VERSION}.forest`]);
      const second = await forests.forest(file, ensembleOf(file));
      expect(lines.at(-1)).toMatch(/^\[Trees\] Forest cache: read .*\.forest$/);
      expect(contents(second)).toEqual(contents(first));
      expect(contents(second)).toEqual(contents(compileForest(ensembleOf(file))));
    },
  );

  it("given a small ensemble and the default size, then it is compiled and nothing is written", async () => {
    const file = join(FIXTURES, "rf_reg.onnx");
    const forests = new ForestCache(join(dir, "forests"));
    await forests.forest(file, ensembleOf(file));
    expect(entries()).toEqual([]);
  });

  it.each([
    [
      "truncated",
      (entry: string) => truncateSync(entry, statSync(entry).size - 100),
      /truncated|bytes, not the/,
    ],
    ["cut to its prefix", (entry: string) => truncateSync(entry, 60), /truncated|too few/],
    [
      "damaged (a byte of its nodes flipped)",
      (entry: string) => {
        const bytes = readFileSync(entry);
        const at = bytes.length - 1000;
        bytes[at] = bytes[at]! ^ 0x10;
        writeFileSync(entry, bytes);
      },
      /checksum does not match/,
    ],
    ["not a forest", (entry: string) => writeFileSync(entry, Buffer.alloc(4096, 7)), /not a forest file/],
  ])(
    "given a %s entry, then it is not used: the forest is compiled and written again",
    async (_, spoil, why) => {
      const file = join(FIXTURES, "rf_clf_multi.onnx");
      const { cache: forests, lines } = cache();
      const compiled = await forests.forest(file, ensembleOf(file));
      const [name] = entries();
      spoil(join(dir, "forests", name!));
      const again = await forests.forest(file, ensembleOf(file));
      expect(lines.join("\n")).toMatch(why);
      expect(lines.at(-1)).toMatch(/^\[Trees\] Forest cache: wrote /);
      expect(contents(again)).toEqual(contents(compiled));
      // The rewritten entry is whole again.
      await forests.forest(file, ensembleOf(file));
      expect(lines.at(-1)).toMatch(/^\[Trees\] Forest cache: read /);
    },
  );

  it("given the entry of another model file under this model's name, then it is not used", async () => {
    const [a, b] = [join(FIXTURES, "rf_reg.onnx"), join(FIXTURES, "et_reg.onnx")];
    const { cache: forests, lines } = cache();
    await forests.forest(a, ensembleOf(a));
    const [name] = entries();
    copyFileSync(
      join(dir, "forests", name!),
      join(dir, "forests", `${await fileDigest(b)}.v${LAYOUT_VERSION}.forest`),
    );
    const forest = await forests.forest(b, ensembleOf(b));
    expect(lines.join("\n")).toContain("it was compiled from another model file");
    expect(contents(forest)).toEqual(contents(compileForest(ensembleOf(b))));
  });

  it("given an entry of another layout version and a dead run's temporary file, when an entry is written, then both are removed, and another host's is kept", async () => {
    const folder = join(dir, "forests");
    const file = join(FIXTURES, "rf_reg.onnx");
    const { cache: forests } = cache();
    await forests.forest(file, ensembleOf(file));
    const [current] = entries();
    const old = `${"0".repeat(64)}.v${LAYOUT_VERSION + 1000}.forest`;
    // A temporary name of this host, with a pid no process has; and one of another host (maybe alive).
    const dead = basename(scratchPath(join(folder, current!), "tmp")).replace(
      `-${process.pid}-`,
      "-999999999-",
    );
    const otherHost = `.mlbatch-tmp-00000000-999999999-0badc0de-${current}`;
    for (const name of [old, dead, otherHost]) writeFileSync(join(folder, name), "x");
    const other = join(FIXTURES, "et_reg.onnx");
    await forests.forest(other, ensembleOf(other));
    const left = entries();
    expect(left).not.toContain(old);
    expect(left).not.toContain(dead);
    expect(left).toContain(otherHost);
    expect(left).toContain(current);
  });

  it("given a cache folder that cannot be made, then the forest is compiled and a debug line says why", async () => {
    const blocker = join(dir, "file");
    writeFileSync(blocker, "not a folder");
    const file = join(FIXTURES, "rf_reg.onnx");
    const { cache: forests, lines } = cache(join(blocker, "forests"));
    const forest = await forests.forest(file, ensembleOf(file));
    expect(contents(forest)).toEqual(contents(compileForest(ensembleOf(file))));
    expect(lines.at(-1)).toMatch(/^\[Trees\] Forest cache: cannot write .*: /);
  });

  it("given four processes filling one entry at once, then each gets the forest and one whole entry remains, without temporary files", async () => {
    const file = join(FIXTURES, "lgbm_clf_multi.onnx");
    const folder = join(dir, "forests");
    const script = `
      const { OnnxModelFile } = await import(${JSON.stringify(join(ROOT, "dist/models/onnx/graph.js"))});
      const { ForestCache } = await import(${JSON.stringify(join(ROOT, "dist/models/trees/cache/forest-cache.js"))});
      const node = OnnxModelFile.read(${JSON.stringify(file)}).nodes.find((n) => n.opType.startsWith("TreeEnsemble"));
      const forest = await new ForestCache(${JSON.stringify(folder)}, undefined, 0).forest(${JSON.stringify(file)}, node);
      process.stdout.write(String(forest.nodeCount));
    `;
    const runs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<{ code: number | null; out: string }>((resolve) => {
            const child = spawn(process.execPath, ["--input-type=module", "-e", script]);
            let out = "";
            child.stdout.on("data", (chunk: Buffer) => {
              out += chunk;
            });
            child.on("close", (code) => resolve({ code, out }));
          }),
      ),
    );
    const expected = String(compileForest(ensembleOf(file)).nodeCount);
    expect(runs).toEqual(Array.from({ length: 4 }, () => ({ code: 0, out: expected })));
    expect(entries()).toEqual([`${await fileDigest(file)}.v${LAYOUT_VERSION}.forest`]);
    const { cache: forests, lines } = cache();
    const cached = await forests.forest(file, ensembleOf(file));
    expect(lines.at(-1)).toMatch(/^\[Trees\] Forest cache: read /);
    expect(contents(cached)).toEqual(contents(compileForest(ensembleOf(file))));
  });
});
