/**
 * The Python the pyfunc workers run, as MLflow's env_manager chooses it: `local` (a Python given, or on
 * PATH, that imports mlflow and pyarrow), `uv` or `virtualenv` (an environment built from the model's
 * python_env.yaml / requirements.txt, once: cached under a digest of what it installs).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { MlbatchError, messageOf } from "../../errors.js";
import { yaml } from "../../packages.js";
import { defaultCacheDir } from "../../registry/cache.js";
import type { MLmodel } from "../mlmodel.js";
import { withLock } from "./lock.js";

const run = promisify(execFile);

/** The Python found or built, and how, for the engine's description. */
export interface PythonEnvironment {
  readonly python: string;
  /** `local python3`, `uv environment <dir> (built)`, ... */
  readonly description: string;
}

/** What the environment builders install besides the model's requirements: the worker's transport. */
const WORKER_REQUIREMENTS = ["pyarrow"];

/** The default folder of built environments: `$XDG_CACHE_HOME/mlbatch/pyfunc-envs`, else `~/.cache/...`. */
export function defaultEnvDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(dirname(defaultCacheDir(env)), "pyfunc-envs");
}

/** The Python env_manager `local` runs: `python` (loader.python), else `$MLBATCH_PYTHON`, else `python3`. */
export function localPythonPath(python: string | undefined): string {
  return python ?? process.env.MLBATCH_PYTHON ?? "python3";
}

/**
 * The Python of env_manager `local`: `python`, else `$MLBATCH_PYTHON`, else `python3`, once it imports
 * mlflow and pyarrow.
 *
 * @throws MlbatchError `E_MODEL_LOAD` naming the Python, what it cannot import, and the other choices
 */
export async function localPython(uri: string, python: string | undefined): Promise<PythonEnvironment> {
  const chosen = localPythonPath(python);
  const from =
    python !== undefined ? "loader.python" : process.env.MLBATCH_PYTHON ? "$MLBATCH_PYTHON" : "PATH";
  try {
    // Found, not imported: importing mlflow takes seconds, and each worker imports it anyway.
    const check =
      "import importlib.util as u, sys\n" +
      "missing = [m for m in ('mlflow', 'pyarrow', 'pandas') if u.find_spec(m) is None]\n" +
      "sys.exit(f\"No module named {', '.join(missing)}\") if missing else None";
    await run(chosen, ["-c", check], { timeout: 120_000 });
  } catch (error) {
    const why = (error as { stderr?: string }).stderr?.trim().split("\n").at(-1) ?? messageOf(error);
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri} runs in Python (loader.pyfunc, env_manager local), but ${chosen} (from ${from}) cannot import ` +
        `mlflow and pyarrow (${why}). Install them into it (pip install mlflow pyarrow), name another Python with ` +
        "loader.python or $MLBATCH_PYTHON, or let mlbatch build the model's environment with loader.env_manager uv or virtualenv.",
      { cause: error },
    );
  }
  return { python: chosen, description: `local ${chosen}` };
}

/** What an environment built for a model installs: its Python version and requirement lines. */
interface Recipe {
  readonly pythonVersion: string | undefined;
  readonly requirements: readonly string[];
  readonly file: string;
}

async function recipe(uri: string, mlmodel: MLmodel): Promise<Recipe> {
  const dir = mlmodel.directory;
  const envFile = mlmodel.pyfunc?.pythonEnv;
  let pythonVersion = mlmodel.pyfunc?.pythonVersion;
  let lines: string[] | undefined;
  let file = "requirements.txt";
  if (envFile !== undefined && existsSync(join(dir, envFile))) {
    const doc = (yaml.parse(await readFile(join(dir, envFile), "utf8")) ?? {}) as Record<string, unknown>;
    pythonVersion = typeof doc.python === "string" ? doc.python : pythonVersion;
    const deps = Array.isArray(doc.dependencies) ? doc.dependencies.map(String) : [];
    lines = await expand(dir, deps);
    file = envFile;
  } else if (existsSync(join(dir, "requirements.txt"))) {
    lines = await expand(dir, ["-r requirements.txt"]);
  }
  if (lines === undefined) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri} has neither python_env.yaml nor requirements.txt in ${dir}: nothing says which environment it needs. ` +
        "Log it with a current MLflow (which writes both), or use loader.env_manager local with a Python that has its packages.",
    );
  }
  return { pythonVersion, requirements: lines, file };
}

/** The requirement lines, `-r file` expanded (relative to the model folder). */
async function expand(dir: string, deps: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const dep of deps) {
    const included = /^-r\s+(.+)$/.exec(dep.trim());
    if (included === null) {
      if (dep.trim() !== "" && !dep.trim().startsWith("#")) out.push(dep.trim());
      continue;
    }
    const text = await readFile(join(dir, included[1]!), "utf8");
    out.push(...(await expand(dir, text.split("\n"))));
  }
  return out;
}

/**
 * The environment of env_manager `uv` or `virtualenv` for a model: built once under `envDir`, in a folder
 * named by the digest of its manager, Python version and requirements; later runs (and other shards on the
 * machine) reuse it. Concurrent builders wait on one lock; a failed build leaves nothing.
 *
 * @throws MlbatchError `E_MODEL_LOAD` naming the requirement file and the tool's own message
 */
export async function builtPython(
  uri: string,
  mlmodel: MLmodel,
  manager: "uv" | "virtualenv",
  envDir: string,
): Promise<PythonEnvironment> {
  const wanted = await recipe(uri, mlmodel);
  const requirements = [...wanted.requirements, ...WORKER_REQUIREMENTS];
  const digest = createHash("sha256")
    .update(JSON.stringify([manager, wanted.pythonVersion ?? "", requirements]))
    .digest("hex")
    .slice(0, 16);
  const dir = join(envDir, `${manager}-${digest}`);
  const python = join(dir, "bin", "python");
  const ready = join(dir, ".mlbatch-ready");
  if (existsSync(ready)) return { python, description: `${manager} environment ${dir} (cached)` };
  return withLock(`${dir}.lock`, async () => {
    if (existsSync(ready)) return { python, description: `${manager} environment ${dir} (cached)` };
    await build(uri, manager, dir, wanted, requirements);
    return { python, description: `${manager} environment ${dir} (built)` };
  });
}

async function build(
  uri: string,
  manager: "uv" | "virtualenv",
  dir: string,
  wanted: Recipe,
  requirements: readonly string[],
): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  const list = `${dir}.requirements.txt`;
  await writeFile(list, `${requirements.join("\n")}\n`);
  const python = join(dir, "bin", "python");
  const steps: [string, string[]][] =
    manager === "uv"
      ? [
          [
            uvCommand(),
            ["venv", "--quiet", ...(wanted.pythonVersion ? ["--python", wanted.pythonVersion] : []), dir],
          ],
          [uvCommand(), ["pip", "install", "--quiet", "--python", python, "-r", list]],
        ]
      : [
          [process.env.MLBATCH_VIRTUALENV_PYTHON ?? "python3", ["-m", "venv", dir]],
          [python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", list]],
        ];
  try {
    for (const [command, args] of steps) {
      await run(command, args, { timeout: 1_800_000, maxBuffer: 64 * 2 ** 20 });
    }
    await writeFile(join(dir, ".mlbatch-ready"), `${new Date().toISOString()}\n`);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? "";
    const tail = stderr.split("\n").slice(-12).join("\n") || messageOf(error);
    const missing = (error as { code?: unknown }).code === "ENOENT";
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: cannot build its ${manager} environment from ${wanted.file} ` +
        `(Python ${wanted.pythonVersion ?? "any"}; ${requirements.join(", ")}) in ${dir}:\n${tail}\n` +
        (missing && manager === "uv"
          ? "uv is not installed: pip install uv (or set $MLBATCH_UV), or use env_manager virtualenv or local."
          : "Fix the requirement named above in the model's requirements, or use env_manager local with a Python that has them."),
      { cause: error },
    );
  } finally {
    await rm(list, { force: true });
  }
}

function uvCommand(): string {
  return process.env.MLBATCH_UV ?? "uv";
}
