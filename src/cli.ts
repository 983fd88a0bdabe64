/**
 * The `mlbatch` command line: the only module that prints errors and sets the exit code.
 * Exit codes: 0 success, 1 the job failed, 2 the configuration or command line is invalid, 128 + n
 * stopped by signal n (143 SIGTERM, 130 SIGINT).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadSettings } from "./config/load.js";
import { MlbatchError, messageOf } from "./errors.js";
import { createJob } from "./jobs/index.js";
import { InferenceJob } from "./jobs/inference.js";
import { ShardedInferenceJob } from "./jobs/sharded.js";
import { packageFile } from "./packages.js";
import { versionUri } from "./registry/model-uri.js";
import { removeTrackedSync } from "./scratch.js";
import { settingsJsonSchema } from "./settings.js";
import { parseShardFlag } from "./shard/detect.js";

/** What the help says after the commands' lines. */
const HELP_NOTES = `--shard <i>/<n>: also job.shard, or detected from JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX,
CLOUD_RUN_TASK_INDEX/COUNT, SLURM_ARRAY_TASK_ID/COUNT, with MLBATCH_SHARD_COUNT (see "Sharded runs").
--no-cache: download a tracking server's model again instead of using (or filling) the local model cache.

Configs are merged in order, then each -e YAML string over them (later wins);
\${oc.env:NAME} and \${oc.env:NAME,default} are replaced by environment variables.

Example:
  mlbatch run confs/inference.yaml -e 'job: {alias_or_version: 3}'

Exit codes: 0 success, 1 the job failed, 2 invalid configuration or command line.
Guide: docs/guide.md`;

function version(): string {
  const pkg = JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function usage(message: string): MlbatchError {
  return new MlbatchError("E_USAGE", `${message}. Run "mlbatch --help" for usage.`);
}

/** What a command gets: its config files, the parsed flags, and the signal that stops the job. */
interface CommandContext {
  readonly files: readonly string[];
  readonly extras: readonly string[];
  readonly noCache: boolean;
  readonly shard: string | undefined;
  /** `profile`'s --data, --output and --log. */
  readonly data: string | undefined;
  readonly output: string | undefined;
  readonly log: boolean;
  readonly signal: AbortSignal;
}

/** A command of the table: its help, whether it takes configs and --shard, and what it does. */
interface Command {
  /** Its lines in the help: the arguments after `mlbatch <name>`, and what it does. */
  readonly help: readonly (readonly [args: string, does: string])[];
  readonly configs: boolean;
  readonly shard?: boolean;
  run(context: CommandContext): Promise<void>;
}

/** The arguments of a command that reads configs. */
const CONFIGS = "<config.yaml>... [-e '<yaml>']...";

/** The settings the command's configs, extras and flags describe. */
function settingsOf(context: CommandContext) {
  const shard = context.shard === undefined ? undefined : parseShardFlag(context.shard);
  const job = {
    ...(context.noCache ? { mlflow_service: { cache: { enable: false } } } : {}),
    ...(shard === undefined ? {} : { shard: { index: shard.index, count: shard.count } }),
  };
  return loadSettings(context.files, context.extras, process.env, Object.keys(job).length > 0 ? { job } : {});
}

/** A sharded run's plan or commit step, with its outcome on stdout. */
function shardStep(kind: "plan" | "commit", does: string): Command {
  return {
    help: [[CONFIGS, does]],
    configs: true,
    async run(context) {
      const settings = await settingsOf(context);
      const { commit, plan, planPath } = await ShardedInferenceJob.fromConfig(settings.job, { kind }).execute(
        {
          signal: context.signal,
        },
      );
      const model = `${versionUri(plan.model.name, plan.model.version)} (${plan.model.asked})`;
      if (kind === "plan" || commit?.status !== "committed") {
        process.stdout.write(
          `plan ${planPath}: ${plan.units.length} units, ${plan.rows} rows, model ${model}\n`,
        );
        return;
      }
      const { parts, rows } = commit.manifest;
      process.stdout.write(
        `committed ${settings.job.outputs.path}: ${parts.length} parts, ${rows.written} rows ` +
          `(${rows.dropped} dropped), model ${model}\n`,
      );
    },
  };
}

/** The commands, by name (citty's command table). */
const COMMANDS: Readonly<Record<string, Command>> = {
  run: {
    help: [
      ["<config.yaml>... [-e|--extras '<yaml>']...", "run the job the configs describe"],
      ["<config.yaml>... --shard <i>/<n>", "run shard i (from 0) of n: outputs.path is a folder of parts"],
    ],
    configs: true,
    shard: true,
    async run(context) {
      await createJob((await settingsOf(context)).job).execute({ signal: context.signal });
    },
  },
  validate: {
    help: [[CONFIGS, "check config, model and data; predict and write nothing"]],
    configs: true,
    async run(context) {
      const job = InferenceJob.fromConfig((await settingsOf(context)).job);
      process.stdout.write(`${(await job.validate({ signal: context.signal })).summary}\n`);
    },
  },
  profile: {
    help: [
      [`${CONFIGS} --data <train> --output <f.profile.json>`, "profile training data for drift.reference"],
      [`${CONFIGS} --data <train> --log`, "... logged to the model version's run (drift.reference: model)"],
    ],
    configs: true,
    async run(context) {
      const { data, output, log } = context;
      if (data === undefined || (output === undefined && !log))
        throw usage('"profile" needs --data <training data>, and --output <file.profile.json> or --log');
      const job = InferenceJob.fromConfig((await settingsOf(context)).job);
      const made = await job.profile({ data, output, log, signal: context.signal });
      const columns = Object.keys(made.profile.columns).length;
      const where = [made.output, made.logged].filter((w) => w !== undefined).join(" and ");
      process.stdout.write(
        `profile ${where}: ${made.profile.rows} rows, ${columns} columns of ${data}, model ${made.modelUri}\n`,
      );
    },
  },
  plan: shardStep("plan", "pin the model version and work units of a sharded run"),
  commit: shardStep("commit", "commit a sharded run whose parts are all written"),
  schema: {
    help: [["", "print the JSON Schema of the configs"]],
    configs: false,
    async run() {
      process.stdout.write(`${JSON.stringify(settingsJsonSchema(), null, 2)}\n`);
    },
  },
};

/** The help: every command's lines from the table, then the notes. */
function help(): string {
  const lines = Object.entries(COMMANDS).flatMap(([name, command]) =>
    command.help.map(([args, does]) => [`mlbatch ${name}${args === "" ? "" : ` ${args}`}`, does] as const),
  );
  const width = Math.max(...lines.map(([usage]) => usage.length)) + 3;
  return [
    "mlbatch: batch inference for MLflow-registered models (ONNX, scikit-learn, XGBoost, LightGBM natively; any other in pyfunc workers)",
    "",
    "Usage:",
    ...lines.map(([usage, does]) => `  ${usage.padEnd(width)}${does}`),
    "  mlbatch --help | --version",
    "",
    HELP_NOTES,
  ].join("\n");
}

/**
 * Runs the command line and returns the exit code.
 *
 * @param argv - the arguments after the program name
 * @example
 * ```ts
 * process.exitCode = await main(["run", "confs/inference.yaml"]);
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  const interrupt = onSignals();
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        extras: { type: "string", short: "e", multiple: true },
        "no-cache": { type: "boolean" },
        shard: { type: "string" },
        data: { type: "string" },
        output: { type: "string" },
        log: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
    const [name, ...files] = positionals;
    if (values.version) {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    if (values.help || name === undefined || name === "help") {
      process.stdout.write(`${help()}\n`);
      return name === undefined && !values.help ? 2 : 0;
    }
    if ((values.data !== undefined || values.output !== undefined || values.log) && name !== "profile")
      throw usage('--data, --output and --log apply to "profile" only');
    await commandOf(name, files, values.shard).run({
      files,
      extras: values.extras ?? [],
      noCache: values["no-cache"] === true,
      shard: values.shard,
      data: values.data,
      output: values.output,
      log: values.log === true,
      signal: interrupt.signal,
    });
    return 0;
  } catch (error) {
    return reported(error, interrupt.exitCode);
  } finally {
    interrupt.dispose();
  }
}

/** The command of that name, when its arguments fit it. @throws MlbatchError `E_USAGE` otherwise */
function commandOf(name: string, files: readonly string[], shard: string | undefined): Command {
  const command = COMMANDS[name];
  if (command === undefined) throw usage(`unknown command "${name}"`);
  if (command.configs && files.length === 0) throw usage(`"${name}" needs at least one config file`);
  if (!command.configs && files.length > 0)
    throw usage(`"${name}" takes no arguments, got ${files.join(" ")}`);
  if (shard !== undefined && command.shard !== true) throw usage(`--shard applies to "run" only`);
  return command;
}

/**
 * Prints a failure on stderr (unless the job's logger already did) and returns its exit code.
 *
 * @param error - what the command threw
 * @param signalled - the exit code of the signal that interrupted the job, if one did
 */
function reported(error: unknown, signalled: number | undefined): number {
  const failure =
    error instanceof MlbatchError
      ? error
      : (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
        ? usage(messageOf(error).split("\n")[0] ?? "invalid arguments")
        : new MlbatchError("E_INTERNAL", messageOf(error), { cause: error });
  // Once per channel: an error the job's logger already wrote to stderr is not printed again.
  if (!failure.reported) {
    const step = failure.step === undefined ? "" : ` (step: ${failure.step})`;
    process.stderr.write(`mlbatch: error [${failure.code}]${step}: ${failure.message}\n`);
  }
  if (failure.code === "E_INTERNAL" && failure.cause instanceof Error)
    process.stderr.write(`${failure.cause.stack}\n`);
  if (failure.code === "E_INTERRUPTED") return signalled ?? 1;
  return failure.code === "E_CONFIG" || failure.code === "E_USAGE" ? 2 : 1;
}

/** Signal numbers, for exit codes 128 + n. */
const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
/** How long a job may take to stop after the first signal (Kubernetes' default grace is 30 s). */
const GRACE_MS = 8_000;

/**
 * SIGTERM and SIGINT stop the job: the first aborts the returned signal (the job stops reading, removes
 * what it was writing, notifies `E_INTERRUPTED`); a second one, or a job that has not stopped after the
 * grace period, ends the process at once, removing the scratch files still tracked. Exit code 128 + the
 * signal.
 *
 * Ending at once is the signal's default action, raised again, not `process.exit`: exit joins libuv's
 * thread pool, and a DuckDB statement scanning one of our table functions holds a pool thread that waits
 * for the main thread, so exit would wait forever (seen under load).
 */
function onSignals(): { signal: AbortSignal; readonly exitCode: number | undefined; dispose(): void } {
  const controller = new AbortController();
  let exitCode: number | undefined;
  const end = (name: keyof typeof SIGNALS, code: number): never => {
    removeTrackedSync();
    for (const each of Object.keys(SIGNALS)) process.removeAllListeners(each);
    process.kill(process.pid, name);
    process.exit(code); // Only if something kept the signal from ending the process.
  };
  const handler = (name: keyof typeof SIGNALS) => {
    const code = 128 + SIGNALS[name];
    if (exitCode !== undefined) end(name, code);
    exitCode = code;
    controller.abort(new MlbatchError("E_INTERRUPTED", `interrupted by ${name}`));
    setTimeout(() => {
      process.stderr.write(`mlbatch: the job did not stop within ${GRACE_MS / 1000} s of ${name}; exiting\n`);
      end(name, code);
    }, GRACE_MS).unref();
  };
  for (const name of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) process.on(name, handler);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    dispose: () => {
      for (const name of Object.keys(SIGNALS)) process.off(name, handler);
    },
  };
}
