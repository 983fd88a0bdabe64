// Bundles the command line (src/cli.ts) into one CommonJS file, dist/bin/mlbatch.cjs, then makes its V8
// code cache, dist/bin/mlbatch.cjs.v8 (scripts/code-cache.mjs), which bin/mlbatch.js compiles it with.
// Loading ~300 ES modules and ~250 CommonJS files one by one, then compiling each function on its first
// call, was most of the quick start's cold start (docs/benchmarks.md, "cold start"); Node 20 has no
// compile cache for ES modules, hence CommonJS. The parts only some runs need (the pyfunc tier, the
// native flavors, ONNX Runtime's model, the S3 SDK, ...) stay lazy: their code is in the file but runs,
// and is compiled, only when imported. The library entry (dist/index.js, from tsc) is not bundled. Run by
// `npm run build`.
// usage: node scripts/bundle.mjs

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const target = join(root, "dist", "bin");

/**
 * Left to Node: native addons and the packages that find files beside their own (addons, vendor
 * binaries, worker scripts), and the large ones only some runs load (the S3 SDK, Arrow for the pyfunc
 * tier, the email and desktop channels). Everything else (zod, yaml, pino, DuckDB's and better-sqlite3's
 * JavaScript) is bundled.
 */
const EXTERNAL = [
  "@duckdb/node-bindings",
  "onnxruntime-node",
  "@aws-sdk/client-s3",
  "apache-arrow",
  "node-notifier",
  "nodemailer",
];

/**
 * src/packages.ts takes DuckDB and yaml with `require` (Node's ESM loader would scan their CommonJS files
 * for named exports); esbuild leaves such calls alone, so in the bundle the module is replaced by
 * imports of the same packages, which esbuild bundles (DuckDB's bindings among them, once: node-api's
 * own `require` of them is the same module in the bundle).
 */
const packagesAsImports = {
  name: "packages-as-imports",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]packages\.ts$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      // load("pkg"), and loadBeside("owner", "pkg"): either way "pkg", which the bundle holds once.
      const LOAD = /^export const (\w+) = (?:load\(|loadBeside\("[^"]+", )"([^"]+)"\).*$/gm;
      const loads = [...source.matchAll(LOAD)];
      if (loads.length === 0) throw new Error(`${args.path}: no \`export const x = load("...")\` found`);
      const rest = source.replace(LOAD, "");
      const imports = loads.map(([, name, pkg]) => `import * as ${name}_ from "${pkg}";`).join("\n");
      const exports = loads.map(([, name]) => `export const ${name} = ${name}_;`).join("\n");
      return { contents: `${imports}\n${rest}\n${exports}\n`, loader: "ts" };
    });
  },
};

/**
 * `await import("nodemailer")` of an external would stay a dynamic import, which a script compiled by
 * `vm.Script` can only run with an experimental loader (and its warning on stderr): it becomes a
 * `require` of the package (every external has a CommonJS entry), still only when the import runs.
 */
const dynamicImportsAsRequires = {
  name: "dynamic-imports-as-requires",
  setup(build) {
    const filter = new RegExp(`^(${EXTERNAL.map((name) => name.replace(/[/.]/g, "\\$&")).join("|")})$`);
    build.onResolve({ filter }, (args) =>
      args.kind === "dynamic-import"
        ? { path: args.path, namespace: "required" }
        : { path: args.path, external: true },
    );
    build.onLoad({ filter: /.*/, namespace: "required" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
      resolveDir: root,
    }));
  },
};

/**
 * DuckDB's JavaScript requires `@duckdb/node-bindings`, whose entry picks the native addon of the
 * platform; on Linux it first asks `detect-libc` whether the C library is musl (its modules, and
 * `child_process`, loaded and compiled at every run, and a diagnostic report read: 5 to 10 ms of the
 * quick start). In the bundle, that require loads the glibc addon itself on a Linux x64 or arm64 without
 * musl's loader (`/lib/ld-musl-<arch>.so.1`, which every musl system has), resolved from the bindings'
 * package as its entry resolves it; anywhere else it requires the bindings' entry as before.
 */
const duckdbBindings = {
  name: "duckdb-bindings",
  setup(build) {
    build.onResolve({ filter: /^@duckdb\/node-bindings$/ }, (args) =>
      args.namespace === "duckdb-bindings"
        ? { path: args.path, external: true }
        : { path: args.path, namespace: "duckdb-bindings" },
    );
    build.onLoad({ filter: /.*/, namespace: "duckdb-bindings" }, () => ({
      contents: `
        const { existsSync } = require("node:fs");
        const { createRequire } = require("node:module");
        const { arch, platform } = process;
        const musl = { x64: "/lib/ld-musl-x86_64.so.1", arm64: "/lib/ld-musl-aarch64.so.1" }[arch];
        module.exports =
          platform === "linux" && musl !== undefined && !existsSync(musl)
            ? createRequire(require.resolve("@duckdb/node-bindings"))(\`@duckdb/node-bindings-linux-\${arch}/duckdb.node\`)
            : require("@duckdb/node-bindings");
      `,
      loader: "js",
      resolveDir: root,
    }));
  },
};

/**
 * better-sqlite3's JavaScript is bundled; its addon is found by the `bindings` package, which searches
 * from the file that calls it (in the bundle, dist/bin/) and tries a dozen paths, each a failed require
 * (about 4 ms). In the bundle, `require("bindings")` gives a function that loads the addon from
 * better-sqlite3's own build/Release/ (where its install puts it), else asks `bindings` to search from
 * better-sqlite3's folder, as it did.
 */
const sqliteBindings = {
  name: "sqlite-bindings",
  setup(build) {
    build.onResolve({ filter: /^bindings$/ }, (args) =>
      args.namespace === "sqlite-bindings"
        ? { path: args.path, external: true }
        : /[\\/]better-sqlite3[\\/]/.test(args.importer)
          ? { path: args.path, namespace: "sqlite-bindings" }
          : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "sqlite-bindings" }, () => ({
      contents: `
        const { dirname, join } = require("node:path");
        const { createRequire } = require("node:module");
        module.exports = (name) => {
          const root = dirname(require.resolve("better-sqlite3/package.json"));
          const load = createRequire(join(root, "package.json"));
          try {
            return load(join(root, "build", "Release", name));
          } catch (error) {
            if (error?.code !== "MODULE_NOT_FOUND") throw error;
            return load("bindings")({ bindings: name, module_root: root });
          }
        };
      `,
      loader: "js",
      resolveDir: root,
    }));
  },
};

const staging = `${target}.${process.pid}.tmp`;
rmSync(staging, { recursive: true, force: true });
const result = await build({
  entryPoints: { mlbatch: join(root, "src", "cli.ts") },
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  outdir: staging,
  outExtension: { ".js": ".cjs" },
  sourcemap: "linked",
  // Stack traces name files and functions as in src/ (with --enable-source-maps, lines too).
  minify: false,
  // The bundle's own place, where the sources ask for theirs (package files, createRequire).
  define: { "import.meta.url": "__mlbatchUrl" },
  banner: { js: 'const __mlbatchUrl = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [duckdbBindings, sqliteBindings, packagesAsImports, dynamicImportsAsRequires],
  tsconfig: join(root, "tsconfig.json"),
  write: false,
  logLevel: "warning",
});
try {
  mkdirSync(staging, { recursive: true });
  for (const file of result.outputFiles)
    writeFileSync(file.path, file.path.endsWith(".cjs") ? asciiOnly(file.text) : file.contents);
  // The bundle replaces the previous one whole (nothing of an older build stays beside it).
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
} finally {
  rmSync(staging, { recursive: true, force: true });
}
const main = result.outputFiles.find((file) => file.path.endsWith(".cjs"));
process.stdout.write(
  `bundled ${relative(root, join(target, "mlbatch.cjs"))} (${Math.round((main?.contents.length ?? 0) / 1024)} KB)\n`,
);
process.stdout.write(`${codeCache()}\n`);

/**
 * The bundle with every character beyond ASCII escaped (`\\uXXXX`). esbuild escapes them in strings
 * and identifiers (its default charset) but not in the comments it keeps; a file of ASCII only is read
 * into a one-byte string (bin/bundle.js), which is quicker to decode and for V8 to scan than the
 * two-byte string a single other character makes of the whole 2 MB.
 */
function asciiOnly(text) {
  return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Makes the bundle's code cache in a process of its own (a plain `node`, as the command runs), its HOME,
 * TMPDIR and XDG_CACHE_HOME in a temporary folder removed after. Where the quick start cannot run (no
 * examples/ in a container's build stage), the command runs without a cache: said, not failed.
 */
function codeCache() {
  const folder = mkdtempSync(join(tmpdir(), "mlbatch-code-cache-"));
  try {
    const made = spawnSync(process.execPath, [join(root, "scripts", "code-cache.mjs"), folder], {
      cwd: root,
      // NODE_OPTIONS as the command will have it: V8 refuses a cache made under other V8 flags.
      env: {
        PATH: process.env.PATH,
        ...(process.env.NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.NODE_OPTIONS }),
        HOME: folder,
        TMPDIR: folder,
        XDG_CACHE_HOME: folder,
      },
      encoding: "utf8",
      timeout: 120_000,
    });
    if (made.status === 0) return `code cache ${relative(root, join(target, "mlbatch.cjs.v8"))}`;
    const why = made.error?.message ?? (made.stderr.trim().split("\n").at(-1) || `exit ${made.status}`);
    return `no code cache (the command compiles its bundle at each run): ${why}`;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
