/**
 * The fault corpus: bad and hostile inputs a new user can meet, each run through the CLI from the
 * README's example. Every case says the exit code, the error code and what the message must say; the
 * harness also checks that a failure is notified once the job has started, that each channel shows the
 * error once, and that nothing new is left on disk (nor in HOME, TMPDIR or the cache).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import Sqlite from "better-sqlite3";
import type { ErrorCode } from "../../src/errors.js";
import { query, ROOT } from "../helpers.js";
import type { Workspace } from "./harness.js";

/** One case of the corpus. */
export interface FaultCase {
  readonly name: string;
  readonly kind: "config" | "data" | "registry" | "model" | "output" | "signals" | "secrets";
  /** Prepares the workspace (files to break, data to make). */
  readonly setup?: (ws: Workspace) => void | Promise<void>;
  /** The CLI arguments (default: `run <the README's config>` with `extras`). */
  readonly args?: (ws: Workspace) => string[];
  /** YAML merged over the README's config with -e. */
  readonly extras?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Signals sent once stderr shows the text. */
  readonly signal?: { readonly when: string; readonly send: readonly NodeJS.Signals[] };
  /** Paths (relative to the working directory) the run may add or change. */
  readonly written?: readonly string[];
  /** A value that must appear nowhere: stdout, stderr, or any file the run wrote. */
  readonly secret?: string;
  readonly expect: {
    readonly exit: number;
    /** The reported error's code; none for a run that succeeds. */
    readonly code?: ErrorCode;
    /** What the reported error (or, for a success, stderr) must say. */
    readonly says?: RegExp;
    /** Whether a failure notification goes out (default: when the exit code is 1 or a signal's). */
    readonly notified?: boolean;
  };
}

const DATA = "examples/bikes/data";
const INPUTS = `${DATA}/inputs_test.parquet`;
const OUT = "examples/bikes/outputs/predictions_test.parquet";
const CHAMPION = "mlruns/1/models/m-d95da4feed2844c1ac11b33401d3afc4/artifacts";

function path(ws: Workspace, relative: string): string {
  return join(ws.cwd, relative);
}

function file(ws: Workspace, relative: string, text: string | Buffer): void {
  mkdirSync(join(path(ws, relative), ".."), { recursive: true });
  writeFileSync(path(ws, relative), text);
}

/** The example's test inputs as CSV text, with `edit` applied to its lines. */
function csv(edit: (lines: string[]) => string[]): string {
  const lines = readFileSync(join(ROOT, DATA, "inputs_test.csv"), "utf8").split("\n");
  return edit(lines).join("\n");
}

/** Runs SQL on a copy of the example registry. */
function registry(ws: Workspace, sql: string): void {
  const db = new Sqlite(join(ws.bikes, "mlflow.db"));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/** Big inputs (3.5M rows) for the signal cases, so that every step takes long enough to interrupt. */
async function bigInputs(ws: Workspace): Promise<void> {
  await query(
    `COPY (SELECT i.* FROM read_parquet('${join(ROOT, INPUTS)}') i, range(1000)) TO '${path(ws, `${DATA}/big.parquet`)}' (FORMAT parquet)`,
  );
}
const BIG = `job: {inputs: {path: ${DATA}/big.parquet}, validation: {constraints: {}}`;

/** A child that holds an exclusive lock on the registry until killed (a writer mid-transaction). */
async function lockRegistry(ws: Workspace): Promise<void> {
  const holder = spawn(
    process.execPath,
    [
      "-e",
      `const db = new (require("better-sqlite3"))(${JSON.stringify(join(ws.bikes, "mlflow.db"))});
       db.exec("BEGIN EXCLUSIVE"); process.stdout.write("locked"); setTimeout(() => {}, 60000);`,
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] },
  );
  holders.push(holder);
  await new Promise((resolve) => holder.stdout.once("data", resolve));
}
/** Lock holders to stop after the corpus. */
export const holders: ReturnType<typeof spawn>[] = [];

const SECRET = "s3cr3t-TOKEN-4242";

export const CASES: readonly FaultCase[] = [
  // --- config: refused before anything runs, exit 2, nothing notified -----------------------------------
  {
    name: "an unknown reader KIND",
    kind: "config",
    extras: "job: {inputs: {KIND: NoSuchReader}}",
    expect: { exit: 2, code: "E_CONFIG", says: /job\.inputs\.KIND: unknown kind "NoSuchReader"/ },
  },
  {
    name: "an unknown key",
    kind: "config",
    extras: "job: {inputs: {sheet: 1}}",
    expect: { exit: 2, code: "E_CONFIG", says: /job\.inputs\.sheet: unknown key/ },
  },
  {
    name: "a config file that does not exist",
    kind: "config",
    args: () => ["run", "confs/missing.yaml"],
    expect: {
      exit: 2,
      code: "E_CONFIG",
      says: /cannot read config file "confs\/missing\.yaml": no such file/,
    },
  },
  {
    name: "a config file that is not YAML",
    kind: "config",
    setup: (ws) => file(ws, "bad.yaml", "job: [unclosed\n  KIND: InferenceJob\n"),
    args: () => ["run", "bad.yaml"],
    expect: { exit: 2, code: "E_CONFIG", says: /bad\.yaml.* is not valid YAML at line \d+/ },
  },
  {
    name: "a config file that is a list",
    kind: "config",
    setup: (ws) => file(ws, "list.yaml", "- a\n- b\n"),
    args: () => ["run", "list.yaml"],
    expect: { exit: 2, code: "E_CONFIG", says: /must be a YAML mapping/ },
  },
  {
    name: "an empty config file",
    kind: "config",
    setup: (ws) => file(ws, "empty.yaml", ""),
    args: () => ["run", "empty.yaml"],
    expect: { exit: 2, code: "E_CONFIG", says: /job: missing/ },
  },
  {
    name: "an -e extra with a YAML error and a token in it",
    kind: "config",
    extras: `job: {mlflow_service: {tracking_uri: "http://u:${SECRET}@host}`,
    secret: SECRET,
    expect: { exit: 2, code: "E_CONFIG", says: /-e #1 is not valid YAML at line 1, column \d+/ },
  },
  {
    name: "mode: 5",
    kind: "config",
    extras: "job: {outputs: {mode: 5}}",
    expect: {
      exit: 2,
      code: "E_CONFIG",
      says: /job\.outputs\.mode: 5 is not allowed; expected "error" or "overwrite"/,
    },
  },
  {
    name: "alias_or_version: 2.5",
    kind: "config",
    extras: "job: {alias_or_version: 2.5}",
    expect: {
      exit: 2,
      code: "E_CONFIG",
      says: /job\.alias_or_version: 2\.5 is not allowed; expected an alias .* or a version/,
    },
  },
  {
    name: "batch_size: 0",
    kind: "config",
    extras: "job: {batch_size: 0}",
    expect: {
      exit: 2,
      code: "E_CONFIG",
      says: /job\.batch_size: 0 is not allowed; expected a positive whole number/,
    },
  },
  {
    name: "a negative limit",
    kind: "config",
    extras: "job: {inputs: {limit: -1}}",
    expect: { exit: 2, code: "E_CONFIG", says: /job\.inputs\.limit: -1 is not allowed/ },
  },
  {
    name: "an environment variable that is not set",
    kind: "config",
    extras: "job: {inputs: {path: '${oc.env:MLBATCH_NO_SUCH_VARIABLE}'}}",
    expect: { exit: 2, code: "E_CONFIG", says: /MLBATCH_NO_SUCH_VARIABLE is not set/ },
  },
  {
    name: "an interpolation other than oc.env",
    kind: "config",
    extras: "job: {inputs: {path: '${oc.decode:x}'}}",
    expect: { exit: 2, code: "E_CONFIG", says: /unsupported interpolation/ },
  },
  {
    name: "on_invalid quarantine without a writer",
    kind: "config",
    extras: "job: {validation: {on_invalid: quarantine}}",
    expect: { exit: 2, code: "E_CONFIG", says: /job\.validation\.quarantine: missing/ },
  },
  {
    name: "an unknown command",
    kind: "config",
    args: (ws) => ["deploy", ws.config],
    expect: { exit: 2, code: "E_USAGE", says: /unknown command "deploy"/ },
  },
  {
    name: "a shard index beyond the count",
    kind: "config",
    args: (ws) => ["run", ws.config, "--shard", "5/2"],
    expect: { exit: 2, code: "E_USAGE", says: /shard/ },
  },
  {
    name: "an empty output path",
    kind: "config",
    extras: "job: {outputs: {path: ''}}",
    expect: { exit: 2, code: "E_CONFIG", says: /job\.outputs\.path/ },
  },

  // --- data: the job has started: exit 1 and a failure notification ---------------------------------
  {
    name: "an input file that does not exist",
    kind: "data",
    extras: "job: {inputs: {path: nope.parquet}}",
    expect: { exit: 1, code: "E_READ", says: /cannot read inputs "nope\.parquet": no such file/ },
  },
  {
    name: "a glob that matches nothing",
    kind: "data",
    extras: `job: {inputs: {path: '${DATA}/none-*.parquet'}}`,
    expect: { exit: 1, code: "E_READ", says: /no file matches this glob/ },
  },
  {
    name: "a folder without Parquet files",
    kind: "data",
    setup: (ws) => file(ws, "empty/notes.txt", "no data"),
    extras: "job: {inputs: {path: empty}}",
    expect: { exit: 1, code: "E_READ", says: /the folder has no \.parquet file/ },
  },
  {
    name: "a file of garbage named .parquet",
    kind: "data",
    setup: (ws) => file(ws, "garbage.parquet", "this is not parquet"),
    extras: "job: {inputs: {path: garbage.parquet}}",
    expect: { exit: 1, code: "E_READ", says: /garbage\.parquet/ },
  },
  {
    name: "a Parquet file cut in half",
    kind: "data",
    setup: (ws) => {
      const bytes = readFileSync(path(ws, INPUTS));
      file(ws, "half.parquet", bytes.subarray(0, bytes.length >> 1));
    },
    extras: "job: {inputs: {path: half.parquet}}",
    expect: { exit: 1, code: "E_READ", says: /half\.parquet/ },
  },
  {
    name: "an empty (0-byte) Parquet file",
    kind: "data",
    setup: (ws) => file(ws, "zero.parquet", ""),
    extras: "job: {inputs: {path: zero.parquet}}",
    expect: { exit: 1, code: "E_READ", says: /zero\.parquet/ },
  },
  {
    name: "a CSV row with extra fields",
    kind: "data",
    setup: (ws) =>
      file(
        ws,
        "extra.csv",
        csv((l) => l.map((line, i) => (i === 40 ? `${line},1,2` : line))),
      ),
    extras: "job: {inputs: {KIND: CsvReader, path: extra.csv}}",
    expect: { exit: 1, code: "E_READ", says: /"extra\.csv": line 41 has \d+ fields instead of \d+/ },
  },
  {
    name: "a CSV row with too few fields",
    kind: "data",
    setup: (ws) =>
      file(
        ws,
        "short.csv",
        csv((l) => l.map((line, i) => (i === 3000 ? "1,2" : line))),
      ),
    extras: "job: {inputs: {KIND: CsvReader, path: short.csv}}",
    expect: { exit: 1, code: "E_READ", says: /"short\.csv".*line 3001/ },
  },
  {
    name: "a CSV with an unterminated quote",
    kind: "data",
    setup: (ws) =>
      file(
        ws,
        "quote.csv",
        csv((l) => l.map((line, i) => (i === 2000 ? `"${line}` : line))),
      ),
    extras: "job: {inputs: {KIND: CsvReader, path: quote.csv}}",
    expect: { exit: 1, code: "E_READ", says: /"quote\.csv"/ },
  },
  {
    name: "a truncated .csv.gz",
    kind: "data",
    setup: (ws) => {
      const gz = gzipSync(readFileSync(join(ROOT, DATA, "inputs_test.csv")));
      file(ws, "cut.csv.gz", gz.subarray(0, Math.floor(gz.length * 0.7)));
    },
    extras: "job: {inputs: {KIND: CsvReader, path: cut.csv.gz}}",
    expect: { exit: 1, code: "E_READ", says: /"cut\.csv\.gz": the gzip data is damaged.*truncated/ },
  },
  {
    name: "a truncated .jsonl.gz",
    kind: "data",
    setup: (ws) => {
      const gz = readFileSync(path(ws, `${DATA}/inputs_test.jsonl.gz`));
      file(ws, "cut.jsonl.gz", gz.subarray(0, gz.length - 100));
    },
    extras: "job: {inputs: {KIND: JsonLinesReader, path: cut.jsonl.gz}}",
    expect: { exit: 1, code: "E_READ", says: /"cut\.jsonl\.gz": the gzip data is damaged/ },
  },
  {
    name: "a JSON Lines file with a line that is not JSON",
    kind: "data",
    setup: (ws) => file(ws, "bad.jsonl", '{"a": 1}\n{"a": 2\n{"a": 3}\n'),
    extras: "job: {inputs: {KIND: JsonLinesReader, path: bad.jsonl}}",
    expect: { exit: 1, code: "E_READ", says: /"bad\.jsonl": line 2 is not valid JSON/ },
  },
  {
    name: "a CSV value that does not fit its declared type",
    kind: "data",
    setup: (ws) =>
      file(
        ws,
        "typed.csv",
        csv((l) => l.map((line, i) => (i === 5 ? line.replace(/^\d+/, "x") : line))),
      ),
    extras: "job: {inputs: {KIND: CsvReader, path: typed.csv, types: {instant: BIGINT}}}",
    expect: {
      exit: 1,
      code: "E_READ",
      says: /"typed\.csv": line 6 has "x" in column "instant", not a BIGINT/,
    },
  },
  {
    name: "a signature column missing from the inputs",
    kind: "data",
    extras: "job: {inputs: {columns: [instant, dteday, yr, mnth, hr]}, validation: {constraints: {}}}",
    expect: { exit: 1, code: "E_SCHEMA", says: /column "season" is missing/ },
  },
  {
    name: "text where the signature wants numbers",
    kind: "data",
    setup: (ws) =>
      file(
        ws,
        "text.csv",
        csv((l) => l.map((line, i) => (i === 9 ? line.replace(/,(\d+),/, ",abc,") : line))),
      ),
    extras: "job: {inputs: {KIND: CsvReader, path: text.csv}, validation: {constraints: {}}}",
    expect: { exit: 1, code: "E_SCHEMA", says: /column "\w+": expected \w+ .*found VARCHAR/ },
  },
  {
    name: "a null in an integer input",
    kind: "data",
    extras: `job: {inputs: {path: ${DATA}/nulls.parquet}}`,
    expect: { exit: 1, code: "E_SCHEMA", says: /column "hr": 1 null values/ },
  },
  {
    name: "a value breaking a constraint (on_invalid fail)",
    kind: "data",
    extras: `job: {inputs: {path: ${DATA}/hr99.parquet}}`,
    expect: { exit: 1, code: "E_SCHEMA", says: /column "hr": 1 values? /i },
  },
  {
    name: "more invalid rows than max_invalid_rows",
    kind: "data",
    extras: `job: {inputs: {path: ${DATA}/hr99.parquet}, validation: {on_invalid: drop, max_invalid_rows: 0}}`,
    expect: { exit: 1, code: "E_SCHEMA", says: /max_invalid_rows \(0\)/ },
  },
  {
    name: "an id column the inputs lack",
    kind: "data",
    extras: "job: {id_columns: [nope]}",
    expect: { exit: 1, code: "E_SCHEMA", says: /id column\(s\) "nope" not found in inputs/ },
  },
  {
    name: "a passthrough column the inputs lack",
    kind: "data",
    extras: "job: {passthrough: [nope]}",
    expect: { exit: 1, code: "E_SCHEMA", says: /passthrough column\(s\) "nope" not found/ },
  },
  {
    name: "inputs.columns naming a column the inputs lack",
    kind: "data",
    extras: "job: {inputs: {columns: [nope]}}",
    expect: { exit: 1, code: "E_READ", says: /inputs\.columns names column\(s\) "nope"/ },
  },

  // --- registry ---------------------------------------------------------------------------------------
  {
    name: "a registry database that does not exist",
    kind: "registry",
    extras: "job: {mlflow_service: {tracking_uri: 'sqlite:///nope.db', registry_uri: 'sqlite:///nope.db'}}",
    expect: { exit: 1, code: "E_REGISTRY", says: /database file ".*nope\.db" does not exist/ },
  },
  {
    name: "a registry database with corrupt pages",
    kind: "registry",
    setup: (ws) => {
      const db = join(ws.bikes, "mlflow.db");
      const bytes = readFileSync(db);
      bytes.fill(0x5a, 4096, Math.min(bytes.length, 4096 * 8));
      writeFileSync(db, bytes);
    },
    expect: { exit: 1, code: "E_REGISTRY", says: /mlflow\.db" is damaged.*\.recover/ },
  },
  {
    name: "a registry file that is not a database",
    kind: "registry",
    setup: (ws) => writeFileSync(join(ws.bikes, "mlflow.db"), "not sqlite at all, just text\n".repeat(200)),
    expect: { exit: 1, code: "E_REGISTRY", says: /mlflow\.db/ },
  },
  {
    name: "a registry locked by a writer for longer than the wait",
    kind: "registry",
    setup: lockRegistry,
    env: { MLBATCH_SQLITE_LOCK_TIMEOUT: "1" },
    expect: { exit: 1, code: "E_REGISTRY", says: /is locked by another writer/ },
  },
  {
    name: "an unknown registered model",
    kind: "registry",
    extras: "job: {mlflow_service: {registry_name: nope}}",
    expect: { exit: 1, code: "E_MODEL_NOT_FOUND", says: /model "nope" not found .*models: bikes/ },
  },
  {
    name: "an unknown alias",
    kind: "registry",
    extras: "job: {alias_or_version: Nope}",
    expect: { exit: 1, code: "E_MODEL_NOT_FOUND", says: /alias "Nope" not found .*Champion -> 2/ },
  },
  {
    name: "an unknown version",
    kind: "registry",
    extras: "job: {alias_or_version: 9}",
    expect: { exit: 1, code: "E_MODEL_NOT_FOUND", says: /version 9 not found .*versions: 1, 2/ },
  },
  {
    name: "an alias pointing at a deleted version",
    kind: "registry",
    setup: (ws) =>
      registry(ws, "UPDATE model_versions SET current_stage = 'Deleted_Internal' WHERE version = 2"),
    expect: {
      exit: 1,
      code: "E_MODEL_NOT_FOUND",
      says: /alias "Champion" of model "bikes" points to version 2, which does not exist \(deleted\); versions: 1/,
    },
  },
  {
    name: "a file store folder that does not exist",
    kind: "registry",
    extras: "job: {mlflow_service: {tracking_uri: ./nope-mlruns, registry_uri: ./nope-mlruns}}",
    expect: { exit: 1, code: "E_REGISTRY", says: /folder ".*nope-mlruns" does not exist/ },
  },
  {
    name: "a tracking server that does not answer, with a password in the environment",
    kind: "registry",
    extras:
      "job: {mlflow_service: {tracking_uri: 'http://127.0.0.1:9', registry_uri: 'http://127.0.0.1:9', http: {max_retries: 0, timeout: 2}}}",
    env: { MLFLOW_TRACKING_USERNAME: "me", MLFLOW_TRACKING_PASSWORD: SECRET },
    secret: SECRET,
    expect: { exit: 1, code: "E_REGISTRY", says: /127\.0\.0\.1:9/ },
  },

  // --- model ------------------------------------------------------------------------------------------
  {
    name: "a model version without its MLmodel file",
    kind: "model",
    setup: (ws) => rmSync(join(ws.bikes, CHAMPION, "MLmodel")),
    expect: { exit: 1, code: "E_MODEL_LOAD", says: /cannot read its MLmodel file/ },
  },
  {
    name: "an MLmodel file that is not YAML",
    kind: "model",
    setup: (ws) => writeFileSync(join(ws.bikes, CHAMPION, "MLmodel"), "flavors: [unclosed\n  onnx: {}\n"),
    expect: { exit: 1, code: "E_MODEL_LOAD", says: /MLmodel/ },
  },
  {
    name: "a model version without its model.onnx",
    kind: "model",
    setup: (ws) => rmSync(join(ws.bikes, CHAMPION, "model.onnx")),
    expect: { exit: 1, code: "E_MODEL_LOAD", says: /model\.onnx/ },
  },
  {
    name: "a model.onnx of garbage",
    kind: "model",
    setup: (ws) => writeFileSync(join(ws.bikes, CHAMPION, "model.onnx"), "garbage ".repeat(100)),
    expect: { exit: 1, code: "E_MODEL_LOAD", says: /model\.onnx/ },
  },
  {
    name: "a model.onnx cut in half",
    kind: "model",
    setup: (ws) => {
      const onnx = join(ws.bikes, CHAMPION, "model.onnx");
      truncateSync(onnx, Math.floor(readFileSync(onnx).length / 2));
    },
    expect: { exit: 1, code: "E_MODEL_LOAD", says: /models:\/bikes\/2/ },
  },
  {
    name: "a signature that is not JSON",
    kind: "model",
    setup: (ws) => {
      const mlmodel = join(ws.bikes, CHAMPION, "MLmodel");
      writeFileSync(mlmodel, readFileSync(mlmodel, "utf8").replace(/inputs: '\[/, "inputs: '[[{"));
    },
    expect: { exit: 1, code: "E_MODEL_LOAD", says: /signature inputs are not valid JSON/ },
  },
  {
    name: "a model with no flavor mlbatch runs",
    kind: "model",
    setup: (ws) => {
      const mlmodel = join(ws.bikes, CHAMPION, "MLmodel");
      writeFileSync(mlmodel, readFileSync(mlmodel, "utf8").replace(/^ {2}onnx:/m, "  not_onnx:"));
    },
    // Natively only: with loader.pyfunc auto it would go to whatever Python the machine has.
    extras: "job: {loader: {KIND: CustomLoader, pyfunc: never}}",
    expect: { exit: 1, code: "E_MODEL_LOAD", says: /has no "onnx" flavor/ },
  },

  // --- outputs ----------------------------------------------------------------------------------------
  {
    name: "an existing output with mode error",
    kind: "output",
    setup: (ws) => file(ws, "keep.parquet", "old output"),
    extras: "job: {outputs: {path: keep.parquet, mode: error}}",
    expect: {
      exit: 1,
      code: "E_WRITE",
      says: /"keep\.parquet": it already exists and the writer's mode is "error"/,
    },
  },
  {
    name: "mode overwrite onto a folder of the user's",
    kind: "output",
    setup: (ws) => file(ws, "results/keep_me.txt", "precious"),
    extras: "job: {outputs: {path: results}}",
    expect: { exit: 1, code: "E_WRITE", says: /"results": it is a folder, and this output is one file/ },
  },
  {
    name: "parts with mode overwrite onto a folder of the user's",
    kind: "output",
    setup: (ws) => file(ws, "results/keep_me.txt", "precious"),
    extras: "job: {outputs: {path: results, max_rows_per_file: 1000}}",
    expect: { exit: 1, code: "E_WRITE", says: /"results": it is a folder that mlbatch did not write/ },
  },
  {
    name: "parts with mode overwrite onto a file",
    kind: "output",
    setup: (ws) => file(ws, "results", "a file"),
    extras: "job: {outputs: {path: results, max_rows_per_file: 1000}}",
    expect: { exit: 1, code: "E_WRITE", says: /"results": it is a file/ },
  },
  {
    name: "the output is the input (mode overwrite)",
    kind: "output",
    extras: `job: {outputs: {path: ${INPUTS}}}`,
    expect: { exit: 2, code: "E_CONFIG", says: /job\.outputs\.path ".*" is the input/, notified: true },
  },
  {
    name: "the output folder holds the input",
    kind: "output",
    extras: `job: {outputs: {path: ${DATA}, max_rows_per_file: 1000}}`,
    expect: { exit: 2, code: "E_CONFIG", says: /holds the input/, notified: true },
  },
  {
    name: "the output inside the input glob",
    kind: "output",
    extras: `job: {inputs: {path: '${DATA}/inputs_*.parquet'}, outputs: {path: ${DATA}/inputs_predicted.parquet}}`,
    expect: { exit: 2, code: "E_CONFIG", says: /is inside the input/, notified: true },
  },
  {
    name: "the quarantine at the outputs' path",
    kind: "output",
    extras: `job: {validation: {on_invalid: quarantine, quarantine: {KIND: ParquetWriter, path: ${OUT}}}}`,
    expect: { exit: 2, code: "E_CONFIG", says: /are the same place/, notified: true },
  },
  {
    name: "an output under a file",
    kind: "output",
    extras: "job: {outputs: {path: examples/bikes/train.py/out.parquet}}",
    expect: { exit: 1, code: "E_WRITE", says: /train\.py\/out\.parquet/ },
  },
  {
    name: "an output in a folder where no file can be made (/proc), found as the rows are written",
    kind: "output",
    extras: "job: {outputs: {path: /proc/mlbatch-out.parquet}}",
    expect: {
      exit: 1,
      code: "E_WRITE",
      says: /cannot write outputs "\/proc\/mlbatch-out\.parquet": .*writable folder with free space/,
    },
  },
  {
    name: "a CSV output in a folder where no file can be made (/proc)",
    kind: "output",
    extras: "job: {outputs: {KIND: CsvWriter, path: /proc/mlbatch-out.csv}}",
    expect: { exit: 1, code: "E_WRITE", says: /cannot write outputs "\/proc\/mlbatch-out\.csv"/ },
  },
  {
    name: "validation.report naming a folder",
    kind: "output",
    setup: (ws) => file(ws, "reports/keep_me.txt", "precious"),
    extras: "job: {validation: {report: reports}}",
    expect: {
      exit: 1,
      code: "E_WRITE",
      says: /cannot write the validation report "reports": it is a folder/,
    },
  },
  {
    name: "the run report naming a folder (a warning; the predictions are written)",
    kind: "output",
    setup: (ws) => file(ws, "reports/keep_me.txt", "precious"),
    extras: "job: {report: reports}",
    written: [OUT],
    expect: { exit: 0, says: /cannot write the run report \\"reports\\": it is a folder/ },
  },

  // --- signals ----------------------------------------------------------------------------------------
  {
    name: "SIGTERM while validating",
    kind: "signals",
    setup: bigInputs,
    extras: `${BIG}}`,
    signal: { when: "[Inference] Validate inputs", send: ["SIGTERM"] },
    expect: { exit: 143, code: "E_INTERRUPTED", says: /interrupted by SIGTERM: the job stopped/ },
  },
  {
    name: "SIGINT while predicting",
    kind: "signals",
    setup: bigInputs,
    extras: `${BIG}}`,
    signal: { when: "[Inference] Predict outputs", send: ["SIGINT"] },
    expect: {
      exit: 130,
      code: "E_INTERRUPTED",
      says: /interrupted by SIGINT: the job stopped during step predict/,
    },
  },
  {
    name: "SIGTERM while writing parts",
    kind: "signals",
    setup: bigInputs,
    extras: `${BIG}, outputs: {path: parts, max_rows_per_file: 20000}}`,
    signal: { when: "[Inference] Write outputs", send: ["SIGTERM"] },
    expect: { exit: 143, code: "E_INTERRUPTED", says: /during step write; nothing was written/ },
  },

  // --- secrets: values from the environment arrive intact and are never shown -------------------------
  ...["*", "!", "&", "%", "@", "`", "{", "[", "|", ">", "'", '"', "#"].map(
    (first): FaultCase => ({
      name: `a webhook secret starting with ${first} from the environment`,
      kind: "secrets",
      extras:
        "job: {alerts_service: {channels: [{KIND: ConsoleChannel}, {KIND: WebhookChannel, url: 'http://127.0.0.1:9/hook', " +
        "hmac_secret: '${oc.env:MLBATCH_TEST_SECRET}', max_attempts: 1, timeout_seconds: 2}]}}",
      env: { MLBATCH_TEST_SECRET: `${first}${SECRET} #word` },
      secret: SECRET,
      written: [OUT],
      expect: { exit: 0, says: /WebhookChannel/ },
    }),
  ),
  {
    name: "a secret from the environment refused by the schema",
    kind: "secrets",
    extras: "job: {batch_size: '${oc.env:MLBATCH_TEST_SECRET}'}",
    env: { MLBATCH_TEST_SECRET: SECRET },
    secret: SECRET,
    expect: {
      exit: 2,
      code: "E_CONFIG",
      says: /job\.batch_size: <from \$\{MLBATCH_TEST_SECRET\}> is not allowed/,
    },
  },
  {
    name: "a Slack webhook URL from the environment that does not answer",
    kind: "secrets",
    extras:
      "job: {alerts_service: {channels: [{KIND: ConsoleChannel}, {KIND: SlackChannel, webhook_url: '${oc.env:MLBATCH_TEST_SECRET}', max_attempts: 1, timeout_seconds: 2}]}}",
    env: { MLBATCH_TEST_SECRET: `http://127.0.0.1:9/services/${SECRET}` },
    secret: SECRET,
    written: [OUT],
    expect: { exit: 0, says: /SlackChannel/ },
  },
];

/** Data files some cases read, made once per workspace by the harness. */
export async function commonData(ws: Workspace): Promise<void> {
  const inputs = path(ws, INPUTS);
  // The same rows with one null `hr` (row 7), and with one `hr` of 99 (row 7); pandas' index kept.
  for (const [name, value] of [
    ["nulls", "NULL"],
    ["hr99", "99"],
  ] as const) {
    await query(
      `COPY (SELECT * REPLACE (CASE WHEN instant = (SELECT min(instant) + 7 FROM read_parquet('${inputs}')) THEN ${value} ELSE hr END AS hr) FROM read_parquet('${inputs}')) TO '${path(ws, `${DATA}/${name}.parquet`)}' (FORMAT parquet)`,
    );
  }
}

/** Cleans up what the lock cases started. */
export function stopHolders(): void {
  for (const holder of holders.splice(0)) holder.kill("SIGKILL");
}
