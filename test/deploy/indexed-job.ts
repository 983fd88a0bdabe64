/**
 * A simulation of the Kubernetes Job controller for an Indexed Job with `backoffLimitPerIndex` and a
 * `podFailurePolicy`, written from the documented semantics (kubernetes.io, "Jobs": "Backoff limit per
 * index", "Pod failure policy"; KEP-3850 and KEP-3329), to see what a manifest's values do with real pod
 * exit codes:
 *
 * - up to `parallelism` pods run at once, one per index not yet succeeded or failed;
 * - a failed pod is matched against the rules in order, the first matching rule's action applies
 *   (`FailJob`, `FailIndex`, `Ignore`, `Count`); no match counts the failure;
 * - `onExitCodes` matches when a container (the named one, if `containerName` is set) exited with a code
 *   `In` the values, or with a non-zero code `NotIn` them; `onPodConditions` when the pod has the condition;
 * - a counted failure is retried until the index has failed more than `backoffLimitPerIndex` times, then
 *   the index fails; a job without `backoffLimitPerIndex` fails when its failures exceed `backoffLimit`;
 * - the Job fails at once (running pods terminated) on `FailJob` (reason `PodFailurePolicy`), when its
 *   failed indexes exceed `maxFailedIndexes` (`MaxFailedIndexesExceeded`), or its counted failures exceed
 *   `backoffLimit` (`BackoffLimitExceeded`); otherwise it ends when every index succeeded (`Complete`) or
 *   succeeded or failed (`Failed`, reason `FailedIndexes`).
 *
 * Retries are not delayed (Kubernetes waits 10 s, 20 s, 40 s ... up to 6 min; `delaySeconds` says how
 * long) and pods start in index order.
 */

/** A `podFailurePolicy` rule, as in the manifest. */
export interface PodFailurePolicyRule {
  readonly action: string;
  readonly onExitCodes?: { containerName?: string; operator: string; values: number[] };
  readonly onPodConditions?: { type: string; status?: string }[];
}

/** The part of a Job the controller reads. */
export interface JobManifest {
  readonly spec: {
    readonly completions: number;
    readonly parallelism?: number;
    readonly completionMode?: string;
    readonly backoffLimit?: number;
    readonly backoffLimitPerIndex?: number;
    readonly maxFailedIndexes?: number;
    readonly podFailurePolicy?: { rules: PodFailurePolicyRule[] };
    readonly template: {
      spec: { restartPolicy?: string; containers: { name: string }[]; initContainers?: { name: string }[] };
    };
  };
}

/** How a pod ended: its containers' exit codes and its conditions (`DisruptionTarget` when evicted). */
export interface PodExit {
  readonly containers: Readonly<Record<string, number>>;
  readonly conditions?: readonly string[];
}

/** A running pod: how it ends, and how the controller terminates it. */
export interface Pod {
  readonly exit: Promise<PodExit>;
  readonly terminate: () => void;
}

/** What happened to one pod. */
export interface PodRecord {
  readonly index: number;
  readonly attempt: number;
  readonly exit: PodExit;
  /** `Succeeded`, the failure policy's action, or `Terminated` when the Job ended while it ran. */
  readonly outcome: "Succeeded" | "FailJob" | "FailIndex" | "Ignore" | "Count" | "Terminated";
  /** The delay Kubernetes would wait before the retry this failure causes. */
  readonly delaySeconds?: number;
}

export interface JobOutcome {
  readonly status: "Complete" | "Failed";
  readonly reason?:
    | "PodFailurePolicy"
    | "MaxFailedIndexesExceeded"
    | "BackoffLimitExceeded"
    | "FailedIndexes";
  readonly completedIndexes: number[];
  readonly failedIndexes: number[];
  readonly pods: PodRecord[];
}

const ACTIONS = ["FailJob", "FailIndex", "Ignore", "Count"];
const MAX_INT32 = 2 ** 31 - 1;

/**
 * The API server's checks of these fields that the OpenAPI schema does not hold (Job validation:
 * `pkg/apis/batch/validation`), as messages; empty when the Job would be accepted.
 */
export function apiErrors(job: JobManifest): string[] {
  const { spec } = job;
  const errors: string[] = [];
  const perIndex = spec.backoffLimitPerIndex !== undefined;
  const containers = [...spec.template.spec.containers, ...(spec.template.spec.initContainers ?? [])];
  if (perIndex && spec.completionMode !== "Indexed") {
    errors.push("spec.backoffLimitPerIndex: requires completionMode Indexed");
  }
  if (spec.maxFailedIndexes !== undefined) {
    if (!perIndex) errors.push("spec.maxFailedIndexes: requires backoffLimitPerIndex");
    if (spec.maxFailedIndexes > spec.completions) errors.push("spec.maxFailedIndexes: above completions");
  }
  if ((perIndex || spec.podFailurePolicy !== undefined) && spec.template.spec.restartPolicy !== "Never") {
    errors.push(
      "spec.template.spec.restartPolicy: must be Never with backoffLimitPerIndex or podFailurePolicy",
    );
  }
  for (const [k, rule] of (spec.podFailurePolicy?.rules ?? []).entries()) {
    const at = `spec.podFailurePolicy.rules[${k}]`;
    if (!ACTIONS.includes(rule.action))
      errors.push(`${at}.action: "${rule.action}" is not one of ${ACTIONS}`);
    if (rule.action === "FailIndex" && !perIndex)
      errors.push(`${at}.action: FailIndex requires backoffLimitPerIndex`);
    if ((rule.onExitCodes === undefined) === (rule.onPodConditions === undefined)) {
      errors.push(`${at}: exactly one of onExitCodes and onPodConditions`);
    }
    const codes = rule.onExitCodes;
    if (codes === undefined) continue;
    if (!["In", "NotIn"].includes(codes.operator)) errors.push(`${at}.onExitCodes.operator: In or NotIn`);
    if (codes.operator === "In" && codes.values.includes(0))
      errors.push(`${at}.onExitCodes.values: 0 with In`);
    if (new Set(codes.values).size !== codes.values.length)
      errors.push(`${at}.onExitCodes.values: duplicates`);
    if (codes.containerName !== undefined && !containers.some((c) => c.name === codes.containerName)) {
      errors.push(`${at}.onExitCodes.containerName: no container "${codes.containerName}"`);
    }
  }
  return errors;
}

/** The action of the first rule a failed pod matches, or `Count` when none does. */
export function actionFor(rules: readonly PodFailurePolicyRule[], exit: PodExit): PodRecord["outcome"] {
  for (const rule of rules) {
    if (rule.onExitCodes !== undefined) {
      const { containerName, operator, values } = rule.onExitCodes;
      const codes = Object.entries(exit.containers)
        .filter(([name]) => containerName === undefined || name === containerName)
        .map(([, code]) => code);
      const matches =
        operator === "In"
          ? codes.some((code) => values.includes(code))
          : codes.some((code) => code !== 0 && !values.includes(code));
      if (matches) return rule.action as PodRecord["outcome"];
    }
    if (rule.onPodConditions?.some((c) => exit.conditions?.includes(c.type))) {
      return rule.action as PodRecord["outcome"];
    }
  }
  return "Count";
}

/**
 * Runs the Job: `start(index, attempt)` starts pod `attempt` (from 0) of `index`; the Job's outcome.
 *
 * @throws Error when the API server would refuse the Job ({@link apiErrors})
 */
export async function simulateIndexedJob(
  job: JobManifest,
  start: (index: number, attempt: number) => Pod,
): Promise<JobOutcome> {
  const errors = apiErrors(job);
  if (errors.length > 0) throw new Error(`the API server refuses this Job: ${errors.join("; ")}`);
  const { spec } = job;
  const rules = spec.podFailurePolicy?.rules ?? [];
  const perIndex = spec.backoffLimitPerIndex;
  const backoffLimit = spec.backoffLimit ?? (perIndex === undefined ? 6 : MAX_INT32);
  const parallelism = Math.min(spec.parallelism ?? 1, spec.completions);

  const queue = Array.from({ length: spec.completions }, (_, index) => index);
  const attempts = new Array<number>(spec.completions).fill(0);
  const failures = new Array<number>(spec.completions).fill(0);
  const completed = new Set<number>();
  const failed = new Set<number>();
  const pods: PodRecord[] = [];
  const running = new Map<number, { pod: Pod; attempt: number; done: Promise<[number, PodExit]> }>();
  let counted = 0;
  let reason: JobOutcome["reason"];

  const failIndex = (index: number) => {
    failed.add(index);
    if (spec.maxFailedIndexes !== undefined && failed.size > spec.maxFailedIndexes) {
      reason = "MaxFailedIndexesExceeded";
    }
  };
  while (reason === undefined && (queue.length > 0 || running.size > 0)) {
    while (running.size < parallelism && queue.length > 0) {
      const index = queue.shift()!;
      const attempt = attempts[index]!++;
      const pod = start(index, attempt);
      running.set(index, { pod, attempt, done: pod.exit.then((exit) => [index, exit]) });
    }
    const [index, exit] = await Promise.race([...running.values()].map((r) => r.done));
    const { attempt } = running.get(index)!;
    running.delete(index);
    if (Object.values(exit.containers).every((code) => code === 0)) {
      completed.add(index);
      pods.push({ index, attempt, exit, outcome: "Succeeded" });
      continue;
    }
    const action = actionFor(rules, exit);
    const record: PodRecord = { index, attempt, exit, outcome: action };
    if (action === "FailJob") reason = "PodFailurePolicy";
    else if (action === "FailIndex") failIndex(index);
    else if (action === "Ignore") queue.push(index);
    else {
      counted += 1;
      failures[index]! += 1;
      if (counted > backoffLimit) reason = "BackoffLimitExceeded";
      else if (perIndex !== undefined && failures[index]! > perIndex) failIndex(index);
      else {
        queue.push(index);
        const delaySeconds = Math.min(
          10 * 2 ** ((perIndex === undefined ? counted : failures[index]!) - 1),
          360,
        );
        pods.push({ ...record, delaySeconds });
        continue;
      }
    }
    pods.push(record);
  }
  // The Job ended while pods ran: the controller deletes them.
  for (const [index, { pod, attempt, done }] of running) {
    pod.terminate();
    const [, exit] = await done;
    pods.push({ index, attempt, exit, outcome: "Terminated" });
  }
  if (reason === undefined && failed.size > 0) reason = "FailedIndexes";
  const sorted = (set: Set<number>) => [...set].sort((a, b) => a - b);
  return {
    status: reason === undefined ? "Complete" : "Failed",
    ...(reason === undefined ? {} : { reason }),
    completedIndexes: sorted(completed),
    failedIndexes: sorted(failed),
    pods,
  };
}
