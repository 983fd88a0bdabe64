/**
 * A one-node Slurm cluster on 127.0.0.1 for the tests: Debian's slurmctld, slurmd and munge (installed
 * with apt-get when missing, as root), a slurm.conf, a munge key and every state, spool and log file in
 * one temporary folder, free ports, and the daemons in the foreground as children of the test process.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, hostname } from "node:os";
import { join } from "node:path";

/** Debian 12's packages: the controller, the node daemon, the commands (sbatch, squeue, ...), munge. */
const PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"];
const BINARIES = ["slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "scancel", "munged"];
const SEARCH = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin", "/sbin"];

function which(name: string): string | undefined {
  return SEARCH.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

/**
 * Installs Slurm and munge with apt-get when one of their programs is missing (CI runs as root on a
 * fresh Debian 12 machine); elsewhere says what to install.
 */
export function ensureSlurm(): void {
  if (BINARIES.every((name) => which(name) !== undefined)) return;
  const missing = BINARIES.filter((name) => which(name) === undefined).join(", ");
  if (process.getuid?.() !== 0 || which("apt-get") === undefined) {
    throw new Error(
      `Slurm is not installed (${missing} missing) and this is not root with apt-get: ` +
        `install ${PACKAGES.join(" ")} (Debian: apt-get install ${PACKAGES.join(" ")}) and run again.`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [
    ["update", "-qq"],
    ["install", "-y", "-qq", "--no-install-recommends", ...PACKAGES],
  ]) {
    const run = spawnSync("apt-get", args, { env, encoding: "utf8", timeout: 240_000 });
    if (run.status !== 0) {
      const why = run.error?.message ?? `exit ${run.status}${run.signal ? ` (${run.signal})` : ""}`;
      throw new Error(`apt-get ${args.join(" ")} failed: ${why}\n${run.stdout}\n${run.stderr}`.trim());
    }
  }
}

/** A port nothing listens on now, on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

async function waitFor(what: string, seconds: number, done: () => boolean, logs: () => string) {
  const deadline = Date.now() + seconds * 1000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${seconds} s. Daemon logs:\n${logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The environment variables of a process, or undefined when it is gone or not readable. */
function environOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  } catch {
    return undefined;
  }
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A started one-node cluster: its folder, the environment its commands need, and its daemons. */
export class SlurmCluster {
  /** The one node's name, and its CPUs (the machine's). */
  readonly node = "mlbatch-node";
  readonly cpus = availableParallelism();
  readonly conf: string;
  /** The environment of sbatch, squeue, ...: SLURM_CONF names this cluster's slurm.conf. */
  readonly env: NodeJS.ProcessEnv;
  private readonly daemons = new Map<string, ChildProcess>();

  private constructor(readonly dir: string) {
    this.conf = join(dir, "slurm.conf");
    this.env = { ...process.env, SLURM_CONF: this.conf };
  }

  /**
   * Writes the config and a munge key into `dir`, starts munged, slurmctld and slurmd, and waits until
   * the node is idle (60 s at most each; the daemons' logs are in the error). Stops what it started when
   * a step fails.
   */
  static async start(dir: string): Promise<SlurmCluster> {
    const cluster = new SlurmCluster(dir);
    try {
      await cluster.boot();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async boot(): Promise<void> {
    const { dir } = this;
    for (const sub of ["state", "spool", "logs"]) mkdirSync(join(dir, sub), { recursive: true });
    const socket = join(dir, "munge.socket");
    writeFileSync(join(dir, "munge.key"), randomBytes(1024), { mode: 0o400 });
    // --force: munged refuses a socket folder under /tmp (sticky, world-writable) without it.
    this.daemon("munged", [
      "--foreground",
      "--force",
      `--key-file=${join(dir, "munge.key")}`,
      `--socket=${socket}`,
      `--pid-file=${join(dir, "munged.pid")}`,
      `--seed-file=${join(dir, "munged.seed")}`,
    ]);
    await waitFor(
      "munged's socket",
      30,
      () => existsSync(socket),
      () => this.logs(),
    );
    const [controllerPort, nodePort] = [await freePort(), await freePort()];
    writeFileSync(this.conf, this.config(socket, controllerPort, nodePort));
    this.daemon("slurmctld", ["-D", "-i"]);
    this.daemon("slurmd", ["-D", "-N", this.node]);
    await waitFor(
      `node ${this.node} idle in sinfo`,
      60,
      () => {
        this.checkAlive();
        return this.command("sinfo", ["-h", "-n", this.node, "-o", "%T"], false).trim() === "idle";
      },
      () => this.logs(),
    );
  }

  /**
   * One node of the machine's CPUs on 127.0.0.1, the root user, no cgroups (linuxproc, no task plugin),
   * no accounting; requeue allowed; a node that stopped answering comes back when it registers again.
   */
  private config(socket: string, controllerPort: number, nodePort: number): string {
    const { dir } = this;
    return `# Written by test/deploy/slurm-cluster.ts: a one-node cluster for the tests.
ClusterName=mlbatch-test
SlurmctldHost=${hostname().split(".")[0]}(127.0.0.1)
SlurmctldPort=${controllerPort}
SlurmdPort=${nodePort}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${socket}
StateSaveLocation=${join(dir, "state")}
SlurmdSpoolDir=${join(dir, "spool")}
SlurmctldPidFile=${join(dir, "slurmctld.pid")}
SlurmdPidFile=${join(dir, "slurmd.pid")}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
MailProg=/bin/true
KillWait=30
MinJobAge=600
NodeName=${this.node} NodeAddr=127.0.0.1 NodeHostname=${hostname()} CPUs=${this.cpus} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
`;
  }

  private daemon(name: string, args: string[]): void {
    const program = which(name);
    if (program === undefined) throw new Error(`${name} is not installed`);
    const log = openSync(join(this.dir, "logs", `${name}.log`), "a");
    const child = spawn(program, args, { env: this.env, stdio: ["ignore", log, log] });
    child.on("error", () => undefined);
    this.daemons.set(name, child);
  }

  /** Throws, with the logs, when a daemon has exited. */
  checkAlive(): void {
    for (const [name, child] of this.daemons) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const how = child.exitCode !== null ? `exit ${child.exitCode}` : child.signalCode;
        throw new Error(`${name} stopped (${how}). Daemon logs:\n${this.logs()}`);
      }
    }
  }

  /** Runs a Slurm command against this cluster; its stdout, or throws with its stderr (when `check`). */
  command(name: string, args: string[], check = true, cwd?: string): string {
    const run = spawnSync(which(name) ?? name, args, {
      env: this.env,
      encoding: "utf8",
      timeout: 30_000,
      ...(cwd === undefined ? {} : { cwd }),
    });
    if (check && run.status !== 0) {
      throw new Error(
        `${name} ${args.join(" ")} failed (exit ${run.status}): ${run.stderr}${run.error ?? ""}`,
      );
    }
    return run.stdout ?? "";
  }

  /** The last lines of each daemon's log, for failure messages. */
  logs(lines = 40): string {
    const folder = join(this.dir, "logs");
    if (!existsSync(folder)) return "(no logs)";
    return readdirSync(folder)
      .map((file) => {
        const text = readFileSync(join(folder, file), "utf8").trimEnd().split("\n").slice(-lines);
        return `--- ${file}\n${text.join("\n")}`;
      })
      .join("\n");
  }

  /**
   * Every process of this cluster: its daemons and what they started (slurmstepd, the jobs), found by
   * the SLURM_CONF in their environment.
   */
  processes(): number[] {
    const mark = `SLURM_CONF=${this.conf}`;
    return readdirSync("/proc")
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .filter((pid) => pid !== process.pid && environOf(pid)?.includes(mark) === true);
  }

  /** The pids of processes of this cluster whose environment holds every `variables` entry and whose command line holds `command`. */
  find(variables: Record<string, string>, command: string): number[] {
    const wanted = Object.entries(variables).map(([name, value]) => `${name}=${value}`);
    return this.processes().filter((pid) => {
      const environ = environOf(pid) ?? [];
      return wanted.every((entry) => environ.includes(entry)) && cmdlineOf(pid).includes(command);
    });
  }

  /**
   * Cancels every job, stops slurmd, slurmctld and munged (SIGTERM, then SIGKILL after 10 s), then kills
   * anything of the cluster still running. Safe to call twice, and on a cluster that did not start.
   *
   * @returns the pids still alive afterwards (none, unless a process would not die)
   */
  async stop(): Promise<number[]> {
    if (this.daemons.get("slurmctld")?.exitCode === null && existsSync(this.conf)) {
      const jobs = this.command("squeue", ["-h", "-o", "%A"], false).split("\n").filter(Boolean);
      if (jobs.length > 0) this.command("scancel", [...new Set(jobs)], false);
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && this.command("squeue", ["-h"], false).trim() !== "") {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    for (const name of ["slurmd", "slurmctld", "munged"]) {
      const child = this.daemons.get(name);
      if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    for (const pid of this.processes()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const daemons = [...this.daemons.values()].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
    return [...new Set([...daemons.filter(alive), ...this.processes()])];
  }
}
