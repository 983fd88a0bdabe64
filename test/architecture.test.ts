/**
 * The layers of src/ (docs/architecture.md, "What may import what"), checked from the import lines alone:
 * every module imports only from its own layer or a lower one, and no import cycle exists, neither
 * between files nor between the units of the table (folders and top-level files).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * Imports excused from the rules while a move is under way (none today), each with why. The list only
 * shrinks: an entry whose import no longer breaks a rule fails the test.
 */
const KNOWN_EXCEPTIONS: readonly { from: string; to: string; why: string }[] = [];

/** The layers, top first: a unit is a folder (`config/`) or a file at the top of src/ (`cli.ts`). */
const LAYERS: readonly { readonly rank: number; readonly name: string; readonly units: readonly string[] }[] =
  [
    { rank: 8, name: "entry points", units: ["cli.ts", "index.ts"] },
    { rank: 7, name: "config", units: ["config/", "settings.ts"] },
    { rank: 6, name: "jobs", units: ["jobs/"] },
    { rank: 5, name: "orchestration", units: ["shard/", "services/"] },
    { rank: 4, name: "domain", units: ["models/", "registry/", "tracking/"] },
    { rank: 3, name: "data", units: ["data/"] },
    { rank: 2, name: "MLflow client", units: ["mlflow/"] },
    { rank: 1, name: "HTTP", units: ["http/"] },
    { rank: 0, name: "neutral", units: ["errors.ts", "log.ts", "packages.ts", "scratch.ts", "report/"] },
  ];

/** One import of a file under src/: where it stands, what it names, and the file it resolves to. */
interface Import {
  /** The importing file, relative to src/ (`data/schema.ts`). */
  readonly from: string;
  readonly line: number;
  /** The specifier as written (`../models/model.js`). */
  readonly specifier: string;
  /** The imported file, relative to src/ (`models/model.ts`). */
  readonly to: string;
}

/** The unit of a file: its top folder (`registry/`), or the file itself at the top (`cli.ts`). */
function unitOf(file: string): string {
  const slash = file.indexOf("/");
  return slash === -1 ? file : `${file.slice(0, slash + 1)}`;
}

function layerOf(file: string): (typeof LAYERS)[number] | undefined {
  const unit = unitOf(file);
  return LAYERS.find((layer) => layer.units.includes(unit));
}

function show(i: Import): string {
  return `src/${i.from}:${i.line} imports "${i.specifier}"`;
}

/** Every relative import of the files under `root`: static `import`/`export ... from`, and `import("...")`. */
function importsUnder(root: string): Import[] {
  const files = readdirSync(root, { recursive: true, encoding: "utf8" })
    .map((file) => file.split("\\").join("/"))
    .filter((file) => file.endsWith(".ts"));
  return files.flatMap((from) => {
    const text = readFileSync(join(root, from), "utf8");
    return ts
      .preProcessFile(text, true, true)
      .importedFiles.filter((found) => found.fileName.startsWith("."))
      .map((found) => {
        const target = resolve(root, dirname(from), found.fileName.replace(/\.js$/, ".ts"));
        return {
          from,
          line: text.slice(0, found.pos).split("\n").length,
          specifier: found.fileName,
          to: relative(root, target).split("\\").join("/"),
        };
      });
  });
}

/** What breaks the table: imports of a higher layer, of files outside src/ or missing, of unknown units. */
function layerViolations(imports: readonly Import[], exists: (file: string) => boolean): string[] {
  const problems: string[] = [];
  for (const i of imports) {
    const [from, to] = [layerOf(i.from), layerOf(i.to)];
    if (i.to.startsWith("..") || !exists(i.to)) problems.push(`${show(i)}: no such file under src/`);
    else if (from === undefined || to === undefined) {
      const unit = unitOf(from === undefined ? i.from : i.to);
      problems.push(
        `${show(i)}: ${unit} is in no layer; add it to the table of docs/architecture.md and here`,
      );
    } else if (to.rank > from.rank) {
      problems.push(
        `${show(i)}: ${unitOf(i.from)} (${from.name}, rank ${from.rank}) imports ${unitOf(i.to)} ` +
          `(${to.name}, rank ${to.rank}); a module imports only from its own layer or below`,
      );
    }
  }
  return problems;
}

/** The strongly connected components of more than one node (or a node importing itself). */
function cyclicComponents(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (stack.includes(next)) low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
    }
    if (low.get(node) !== index.get(node)) return;
    const component = stack.splice(stack.indexOf(node));
    if (component.length > 1 || (edges.get(node) ?? []).includes(node)) components.push(component);
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return components;
}

/** An edge of the import graph between two nodes (files or units), and one import that makes it. */
interface Link {
  readonly from: string;
  readonly to: string;
  readonly via: Import;
}

/** One cycle through `start` inside a component, as the links that make it (breadth first: a shortest). */
function cycleThrough(start: string, within: readonly string[], links: ReadonlyMap<string, Link[]>): Link[] {
  const previous = new Map<string, Link>();
  const queue = [start];
  for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
    for (const link of links.get(node) ?? []) {
      if (link.to === start) {
        const path = [link];
        for (let back = previous.get(node); back !== undefined; back = previous.get(back.from))
          path.unshift(back);
        return path;
      }
      if (within.includes(link.to) && link.to !== start && !previous.has(link.to)) {
        previous.set(link.to, link);
        queue.push(link.to);
      }
    }
  }
  return [];
}

/** The import cycles between nodes, each shown as the import lines that close it. */
function cyclesOf(imports: readonly Import[], node: (file: string) => string, what: string): string[] {
  const links = new Map<string, Link[]>();
  for (const via of imports) {
    const [from, to] = [node(via.from), node(via.to)];
    if (from === to && what === "folders") continue;
    const out = links.get(from) ?? [];
    if (!out.some((link) => link.to === to)) links.set(from, [...out, { from, to, via }]);
  }
  const edges = new Map([...links].map(([from, out]) => [from, out.map((link) => link.to)]));
  return cyclicComponents(edges).map((component) => {
    const start = [...component].sort()[0] as string;
    const steps = cycleThrough(start, component, links).map((l) => `${l.from} -> ${l.to} (${show(l.via)})`);
    return `import cycle between ${what}: ${steps.join(", ")}`;
  });
}

/** Import cycles between files, and between units of the table. */
function importCycles(imports: readonly Import[]): string[] {
  return [...cyclesOf(imports, (file) => file, "files"), ...cyclesOf(imports, unitOf, "folders")];
}

/** The imports left once the known exceptions are set aside, and the exceptions no longer needed. */
function withoutExceptions(imports: readonly Import[], exists: (file: string) => boolean) {
  const excused = (i: Import) => KNOWN_EXCEPTIONS.some((e) => e.from === i.from && e.to === i.to);
  const stale = KNOWN_EXCEPTIONS.filter((e) => {
    const used = imports.filter((i) => i.from === e.from && i.to === e.to);
    return used.length === 0 || layerViolations(used, exists).length === 0;
  }).map((e) => `known exception ${e.from} -> ${e.to} (${e.why}) is no longer violated: remove it`);
  return { kept: imports.filter((i) => !excused(i)), stale };
}

const SRC = fileURLToPath(new URL("../src", import.meta.url));
const inSrc = (file: string) => existsSync(join(SRC, file));

describe("the layers of src/", () => {
  const { kept, stale } = withoutExceptions(importsUnder(SRC), inSrc);

  it("given every import under src/, then each points to its own layer or a lower one", () => {
    expect(layerViolations(kept, inSrc)).toEqual([]);
  });

  it("given every import under src/, then no cycle exists between files or between folders", () => {
    expect(importCycles(kept)).toEqual([]);
  });

  it("given the known exceptions, then each still names an import that breaks the table", () => {
    expect(stale).toEqual([]);
  });

  it("given the table, then every unit of src/ is in exactly one layer", () => {
    const units = new Set(
      readdirSync(SRC, { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name)),
    );
    const listed = LAYERS.flatMap((layer) => layer.units);
    expect([...units].filter((unit) => !listed.includes(unit))).toEqual([]);
    expect(listed.length).toBe(new Set(listed).size);
  });
});

describe("the checker (expected failures)", () => {
  const anywhere = () => true;
  const link = (from: string, specifier: string, line = 1): Import => ({
    from,
    line,
    specifier,
    to: posix.join(posix.dirname(from), specifier.replace(/\.js$/, ".ts")),
  });

  it("given data/ importing models/, then the failure names the file, its line and the import", () => {
    expect(layerViolations([link("data/schema.ts", "../models/model.js", 2)], anywhere)).toEqual([
      'src/data/schema.ts:2 imports "../models/model.js": data/ (data, rank 3) imports models/ ' +
        "(domain, rank 4); a module imports only from its own layer or below",
    ]);
  });

  it("given an import of a missing file or of a unit in no layer, then both are failures", () => {
    const problems = layerViolations(
      [link("data/a.ts", "./gone.js"), link("extra/a.ts", "../errors.js")],
      (f) => f !== "data/gone.ts",
    );
    expect(problems).toEqual([
      'src/data/a.ts:1 imports "./gone.js": no such file under src/',
      'src/extra/a.ts:1 imports "../errors.js": extra/ is in no layer; add it to the table of docs/architecture.md and here',
    ]);
  });

  it("given two files importing each other, then the cycle names both import lines", () => {
    const cycles = importCycles([link("data/a.ts", "./b.js", 3), link("data/b.ts", "./a.js", 7)]);
    expect(cycles).toEqual([
      'import cycle between files: data/a.ts -> data/b.ts (src/data/a.ts:3 imports "./b.js"), ' +
        'data/b.ts -> data/a.ts (src/data/b.ts:7 imports "./a.js")',
    ]);
  });

  it("given two folders of one layer importing each other, then the folder cycle is a failure", () => {
    const cycles = importCycles([
      link("registry/a.ts", "../tracking/b.js"),
      link("tracking/c.ts", "../registry/d.js"),
    ]);
    expect(cycles).toEqual([
      "import cycle between folders: " +
        'registry/ -> tracking/ (src/registry/a.ts:1 imports "../tracking/b.js"), ' +
        'tracking/ -> registry/ (src/tracking/c.ts:1 imports "../registry/d.js")',
    ]);
  });
});
