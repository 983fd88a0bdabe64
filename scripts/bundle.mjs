// Bundles the command line (src/cli.ts) into dist/bin/: one ESM file, plus a chunk for each part loaded
// lazily (the pyfunc tier, the native flavors, ONNX Runtime's model, ...). Loading ~300 ES modules and
// ~250 CommonJS files one by one was most of the quick start's cold start (docs/benchmarks.md, "cold
// start"); the library entry (dist/index.js, from tsc) is not bundled. Run by `npm run build`.
// usage: node scripts/bundle.mjs
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const target = join(root, "dist", "bin");

/**
 * Left to Node: native addons and the packages that find files beside their own (addons, vendor
 * binaries, worker scripts), and the large ones only some runs load (the S3 SDK, Arrow for the pyfunc
 * tier, the email and desktop channels). Everything else (zod, yaml, pino, DuckDB's JavaScript) is
 * bundled.
 */
const EXTERNAL = [
  "@duckdb/node-bindings",
  "onnxruntime-node",
  "better-sqlite3",
  "@aws-sdk/*",
  "apache-arrow",
  "node-notifier",
  "nodemailer",
];

/**
 * src/packages.ts takes DuckDB and yaml with `require` (Node's ESM loader would scan their CommonJS files
 * for named exports); esbuild leaves such calls alone, so in the bundle the module is replaced by
 * imports of the same packages, which esbuild bundles.
 */
const packagesAsImports = {
  name: "packages-as-imports",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]packages\.ts$/ }, async (args) => {
      const { readFile } = await import("node:fs/promises");
      const source = await readFile(args.path, "utf8");
      const loads = [...source.matchAll(/^export const (\w+) = load\("([^"]+)"\)/gm)];
      if (loads.length === 0) throw new Error(`${args.path}: no \`export const x = load("...")\` found`);
      const rest = source.replace(/^export const (\w+) = load\("([^"]+)"\).*$/gm, "");
      const imports = loads.map(([, name, pkg]) => `import * as ${name}_ from "${pkg}";`).join("\n");
      const exports = loads.map(([, name]) => `export const ${name} = ${name}_;`).join("\n");
      return { contents: `${imports}\n${rest}\n${exports}\n`, loader: "ts" };
    });
  },
};

const staging = `${target}.${process.pid}.tmp`;
rmSync(staging, { recursive: true, force: true });
const result = await build({
  entryPoints: { mlbatch: join(root, "src", "cli.ts") },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outdir: staging,
  chunkNames: "[name]-[hash]",
  sourcemap: "linked",
  // Stack traces name files and functions as in src/ (with --enable-source-maps, lines too).
  minify: false,
  external: EXTERNAL,
  // The CommonJS packages bundled call `require` for Node's built-in modules and the externals.
  banner: {
    js: 'import { createRequire as __mlbatchRequire } from "node:module";\nconst require = __mlbatchRequire(import.meta.url);',
  },
  plugins: [packagesAsImports],
  tsconfig: join(root, "tsconfig.json"),
  write: false,
  logLevel: "warning",
});
try {
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.contents);
  }
  // The bundle replaces the previous one whole (no chunk of an older build stays beside it).
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
} finally {
  rmSync(staging, { recursive: true, force: true });
}
const main = result.outputFiles.find((file) => file.path.endsWith("mlbatch.js"));
process.stdout.write(
  `bundled ${relative(root, join(target, "mlbatch.js"))} (${Math.round((main?.contents.length ?? 0) / 1024)} KB, ${result.outputFiles.filter((f) => f.path.endsWith(".js")).length - 1} lazy chunks)\n`,
);
