/**
 * deploy/k8s/job.yaml's failure handling (`backoffLimitPerIndex`, `maxFailedIndexes`, `podFailurePolicy`)
 * in a simulation of the Job controller (indexed-job.ts): first on the documentation's own examples, then
 * with pods that are the real mlbatch CLI, run with the manifest's args and environment and the ConfigMap's
 * config (paths moved to a temporary folder), killed as an OOM kill would, or given a broken config.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { cli, copyStore, INPUTS_TEST, query, ROOT, removeDir, tempDir } from "../helpers.js";
import {
  actionFor,
  apiErrors,
  type JobManifest,
  type Pod,
  type PodExit,
  simulateIndexedJob,
} from "./indexed-job.js";

const K8S = join(ROOT, "deploy", "k8s");

/** A pod whose one container `main` exits with `code` at once. */
const exits = (code: number, conditions: string[] = []): Pod => ({
  exit: Promise.resolve({ containers: { main: code }, conditions }),
  terminate: () => undefined,
});

function docsJob(spec: Partial<JobManifest["spec"]>): JobManifest {
  return {
    spec: {
      completions: 4,
      parallelism: 2,
      completionMode: "Indexed",
      template: { spec: { restartPolicy: "Never", containers: [{ name: "main" }] } },
      ...spec,
    },
  };
}

const podsOf = (pods: { index: number }[], index: number) => pods.filter((p) => p.index === index).length;

describe("the Job controller simulation, on the Kubernetes documentation's examples", () => {
  it("given backoffLimitPerIndex 1 and a FailIndex rule for exit code 42, when index 0 exits 1 and index 1 exits 42, then index 0 is retried once, index 1 never, and the Job fails with FailedIndexes 0,1", async () => {
    // kubernetes.io, Jobs, "Pod failure policy" / job-backoff-limit-per-index-failindex.yaml
    const job = docsJob({
      backoffLimit: 6,
      backoffLimitPerIndex: 1,
      podFailurePolicy: {
        rules: [
          { action: "FailIndex", onExitCodes: { containerName: "main", operator: "In", values: [42] } },
        ],
      },
    });
    const outcome = await simulateIndexedJob(job, (index) => exits([1, 42][index] ?? 0));
    expect(outcome).toMatchObject({
      status: "Failed",
      reason: "FailedIndexes",
      completedIndexes: [2, 3],
      failedIndexes: [0, 1],
    });
    expect(outcome.pods.filter((p) => p.outcome !== "Succeeded")).toHaveLength(3); // status.failed: 3
    expect([podsOf(outcome.pods, 0), podsOf(outcome.pods, 1)]).toEqual([2, 1]);
  });

  it("given 10 indexes, backoffLimitPerIndex 1 and maxFailedIndexes 5, when the even indexes fail, then every index runs and the Job fails with 5 failed indexes, 10 failed pods", async () => {
    // kubernetes.io, Jobs, "Backoff limit per index" / job-backoff-limit-per-index-example.yaml
    const job = docsJob({ completions: 10, parallelism: 3, backoffLimitPerIndex: 1, maxFailedIndexes: 5 });
    const outcome = await simulateIndexedJob(job, (index) => exits(index % 2 === 0 ? 1 : 0));
    expect(outcome).toMatchObject({
      status: "Failed",
      reason: "FailedIndexes",
      completedIndexes: [1, 3, 5, 7, 9],
      failedIndexes: [0, 2, 4, 6, 8],
    });
    expect(outcome.pods.filter((p) => p.outcome === "Count")).toHaveLength(10);
    expect(outcome.pods.filter((p) => p.delaySeconds !== undefined).map((p) => p.delaySeconds)).toEqual([
      10, 10, 10, 10, 10,
    ]);
  });

  it("given maxFailedIndexes 1, when a second index fails, then the Job fails at once with MaxFailedIndexesExceeded and its running pods are terminated", async () => {
    const job = docsJob({ completions: 6, parallelism: 3, backoffLimitPerIndex: 0, maxFailedIndexes: 1 });
    // Indexes 0 and 1 fail at once; the others run until terminated (then exit 143, as on SIGTERM).
    const terminated: number[] = [];
    const outcome = await simulateIndexedJob(job, (index) => {
      if (index < 2) return exits(1);
      let end = (_: PodExit) => {};
      const exit = new Promise<PodExit>((resolve) => {
        end = resolve;
      });
      return {
        exit,
        terminate: () => {
          terminated.push(index);
          end({ containers: { main: 143 } });
        },
      };
    });
    expect(outcome).toMatchObject({
      status: "Failed",
      reason: "MaxFailedIndexesExceeded",
      failedIndexes: [0, 1],
    });
    // Pods 2 and 3 had started (3 in index 0's place): both are terminated, no other pod is started.
    expect(terminated.sort()).toEqual([2, 3]);
    expect(
      outcome.pods
        .filter((p) => p.outcome === "Terminated")
        .map((p) => p.index)
        .sort(),
    ).toEqual([2, 3]);
    expect(outcome.completedIndexes).toEqual([]);
  }, 5_000);

  it("given FailJob for exit code 2, Ignore for DisruptionTarget and NotIn rules, then each pod gets the first matching rule's action", () => {
    const rules = [
      { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] },
      { action: "FailJob", onExitCodes: { operator: "In", values: [2] } },
      { action: "Count", onExitCodes: { containerName: "main", operator: "NotIn", values: [1] } },
      { action: "FailIndex", onExitCodes: { operator: "NotIn", values: [2] } },
    ];
    const of = (code: number, conditions: string[] = [], name = "main") =>
      actionFor(rules, { containers: { [name]: code }, conditions });
    expect(of(137, ["DisruptionTarget"])).toBe("Ignore");
    expect(of(2)).toBe("FailJob");
    expect(of(3)).toBe("Count");
    expect(of(1)).toBe("FailIndex");
    expect(of(1, [], "sidecar")).toBe("FailIndex");
    expect(actionFor([], { containers: { main: 1 } })).toBe("Count");
  });

  it("given FailIndex without backoffLimitPerIndex or restartPolicy OnFailure, then the API server's checks refuse the Job (expected failure)", async () => {
    const rules = [{ action: "FailIndex", onExitCodes: { operator: "In", values: [0, 2] } }];
    const job = docsJob({ maxFailedIndexes: 1, podFailurePolicy: { rules } });
    const errors = apiErrors({
      spec: {
        ...job.spec,
        template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "main" }] } },
      },
    });
    expect(errors).toEqual([
      "spec.maxFailedIndexes: requires backoffLimitPerIndex",
      "spec.template.spec.restartPolicy: must be Never with backoffLimitPerIndex or podFailurePolicy",
      "spec.podFailurePolicy.rules[0].action: FailIndex requires backoffLimitPerIndex",
      "spec.podFailurePolicy.rules[0].onExitCodes.values: 0 with In",
    ]);
    await expect(simulateIndexedJob(job, () => exits(0))).rejects.toThrow(/the API server refuses this Job/);
  });
});

interface Container {
  name: string;
  args: string[];
  env: { name: string; value: string }[];
}

const manifest = parse(readFileSync(join(K8S, "job.yaml"), "utf8")) as JobManifest & {
  spec: { template: { spec: { containers: Container[] } } };
};
const [configMap] = parseAllDocuments(readFileSync(join(K8S, "configmap.yaml"), "utf8")).map(
  (d) => d.toJS() as { data: Record<string, string> },
);
const container = manifest.spec.template.spec.containers[0]!;
const MOUNT = "/etc/mlbatch";

let dir: string;
let store: string;
let single: string;

/**
 * The ConfigMap's config with its volume paths in `folder` and the local registry; `broken` adds a key
 * mlbatch refuses (an E_CONFIG, exit 2).
 */
function configFolder(folder: string, broken = false): string {
  const settings = parse(configMap?.data["inference.yaml"] ?? "") as {
    job: Record<string, unknown> & { inputs: { path: string }; outputs: { path: string } };
  };
  const { job } = settings;
  job.inputs.path = job.inputs.path.replace(/^\/data\//, `${dir}/data/`);
  job.outputs.path = job.outputs.path.replace(/^\/data\//, `${folder}/`);
  job.mlflow_service = { registry_uri: `sqlite:///${join(store, "mlflow.db")}`, registry_name: "bikes" };
  job.loader = { KIND: "CustomLoader", intra_op_num_threads: 1 };
  if (broken) job.batch_sise = 1024;
  const etc = join(folder, "etc");
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, "inference.yaml"), stringify(settings));
  return etc;
}

/**
 * Pod `index` as the kubelet runs it: the container's args (the ConfigMap's mount moved to `etc`), its
 * env, JOB_COMPLETION_INDEX; `kill` SIGKILLs mlbatch once its shard has started (as an OOM kill does).
 * The exit code is the container's: mlbatch's, or 128 + the signal.
 */
function mlbatchPod(etc: string, index: number, kill: boolean): Pod {
  const args = container.args.map((arg) => arg.replace(MOUNT, etc));
  const env: NodeJS.ProcessEnv = { ...process.env, JOB_COMPLETION_INDEX: String(index) };
  for (const variable of container.env) env[variable.name] = variable.value;
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, "bin", "mlbatch.js"), ...args], { env });
  let stderr = "";
  child.stdout?.resume();
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (kill && stderr.includes("[Inference] Shard ")) child.kill("SIGKILL");
  });
  const exit = new Promise<PodExit>((resolve) => {
    child.on("close", (code, signal) => {
      const status = signal === null ? (code ?? 1) : 128 + constants.signals[signal];
      resolve({ containers: { [container.name]: status } });
    });
  });
  return { exit, terminate: () => child.kill("SIGTERM") };
}

beforeAll(async () => {
  dir = tempDir("mlbatch-indexed-job-");
  store = copyStore("mlflow3-sqlite");
  // The bikes test set in 8 files: 8 units, 2 per index.
  mkdirSync(join(dir, "data", "inputs"), { recursive: true });
  for (let k = 0; k < 8; k++) {
    await query(
      `COPY (SELECT * FROM '${INPUTS_TEST}' WHERE (instant % 8) = ${k} ORDER BY instant)
       TO '${join(dir, "data", "inputs", `file-${k}.parquet`)}' (FORMAT parquet)`,
    );
  }
  single = join(dir, "single.parquet");
  const etc = configFolder(join(dir, "single"));
  const run = cli(["run", join(etc, "inference.yaml"), "-e", `job: {outputs: {path: '${single}'}}`]);
  expect(run.code, run.stderr).toBe(0);
}, 120_000);

afterAll(() => {
  removeDir(dir);
  removeDir(store);
});

/** The committed output equals the single run, row for row (the inputs' order: by file, then instant). */
async function expectCommittedEqualsSingle(output: string): Promise<void> {
  const manifestFile = JSON.parse(readFileSync(join(output, "_SUCCESS"), "utf8")) as {
    parts: { file: string }[];
  };
  const files = manifestFile.parts.map((p) => `'${join(output, p.file)}'`).join(", ");
  const [compare] = await query(
    `SELECT count(*)::INT AS n, count(*) FILTER (s.instant IS DISTINCT FROM o.instant OR
            s.prediction IS DISTINCT FROM o.prediction)::INT AS different
     FROM read_parquet([${files}]) s POSITIONAL JOIN '${single}' o`,
  );
  expect(compare).toEqual({ n: 3476, different: 0 });
}

describe("deploy/k8s/job.yaml's failure policy, with mlbatch as the pods", () => {
  const { spec } = manifest;
  const perIndex = spec.backoffLimitPerIndex!;

  it("given the manifest, then the API server's checks accept it and exit code 2 fails the index (FailIndex), any other code is counted", () => {
    expect(apiErrors(manifest)).toEqual([]);
    expect(spec).toMatchObject({
      completions: 4,
      parallelism: 4,
      backoffLimitPerIndex: 3,
      maxFailedIndexes: 0,
    });
    const rules = spec.podFailurePolicy?.rules ?? [];
    expect(actionFor(rules, { containers: { [container.name]: 2 } })).toBe("FailIndex");
    for (const code of [1, 137, 143])
      expect(actionFor(rules, { containers: { [container.name]: code } })).toBe("Count");
  });

  it("given index 1's first pod SIGKILLed (exit 137), then the index is retried, resumes, and the Job completes with the single run's output", async () => {
    const folder = join(dir, "oom-once");
    const etc = configFolder(folder);
    const outcome = await simulateIndexedJob(manifest, (index, attempt) =>
      mlbatchPod(etc, index, index === 1 && attempt === 0),
    );
    expect(outcome).toMatchObject({ status: "Complete", completedIndexes: [0, 1, 2, 3], failedIndexes: [] });
    expect(
      outcome.pods.filter((p) => p.index === 1).map((p) => [p.exit.containers.mlbatch, p.outcome]),
    ).toEqual([
      [137, "Count"],
      [0, "Succeeded"],
    ]);
    await expectCommittedEqualsSingle(join(folder, "outputs", "predictions"));
  }, 120_000);

  it(`given index 2's pods SIGKILLed every time, then after ${perIndex + 1} pods the index fails, the Job fails (MaxFailedIndexesExceeded) and nothing is committed`, async () => {
    const folder = join(dir, "oom-always");
    const etc = configFolder(folder);
    const outcome = await simulateIndexedJob(manifest, (index) => mlbatchPod(etc, index, index === 2));
    expect(outcome).toMatchObject({
      status: "Failed",
      reason: "MaxFailedIndexesExceeded",
      failedIndexes: [2],
    });
    const index2 = outcome.pods.filter((p) => p.index === 2);
    expect(index2.map((p) => [p.exit.containers.mlbatch, p.outcome])).toEqual(
      Array.from({ length: perIndex + 1 }, () => [137, "Count"]),
    );
    expect(existsSync(join(folder, "outputs", "predictions"))).toBe(false);
  }, 180_000);

  it("given a config mlbatch refuses (exit 2), then no index is retried: the first to fail fails the Job (FailIndex, MaxFailedIndexesExceeded); without the rule each would be retried", async () => {
    const etc = configFolder(join(dir, "broken"), true);
    const outcome = await simulateIndexedJob(manifest, (index) => mlbatchPod(etc, index, false));
    expect(outcome).toMatchObject({ status: "Failed", reason: "MaxFailedIndexesExceeded" });
    expect(outcome.failedIndexes).toHaveLength(1);
    const failedPod = outcome.pods.find((p) => p.outcome === "FailIndex");
    expect(failedPod?.exit.containers.mlbatch).toBe(2);
    for (let index = 0; index < spec.completions; index++)
      expect(podsOf(outcome.pods, index)).toBeLessThanOrEqual(1);

    // The counterfactual: the same pods without the podFailurePolicy are retried as any failure.
    const { podFailurePolicy: _, ...withoutPolicy } = spec;
    const retried = await simulateIndexedJob({ spec: withoutPolicy }, (index) =>
      mlbatchPod(etc, index, false),
    );
    expect(retried).toMatchObject({ status: "Failed", reason: "MaxFailedIndexesExceeded" });
    expect(podsOf(retried.pods, retried.failedIndexes[0]!)).toBe(perIndex + 1);
  }, 180_000);
});
