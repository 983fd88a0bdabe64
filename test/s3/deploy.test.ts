/**
 * The object-store variant of the Kubernetes Indexed Job (deploy/k8s/job-s3.yaml and its ConfigMap): an
 * Indexed Job with per-index retries and no shared volume, whose config is valid and reads and writes
 * s3:// URIs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Settings } from "../../src/settings.js";
import { ROOT } from "../helpers.js";

const K8S = join(ROOT, "deploy", "k8s");

interface Pod {
  serviceAccountName?: string;
  containers: {
    args: string[];
    env: { name: string; value?: string }[];
    volumeMounts: { mountPath: string }[];
  }[];
  volumes: Record<string, unknown>[];
}

describe("deploy/k8s/job-s3.yaml", () => {
  const job = parse(readFileSync(join(K8S, "job-s3.yaml"), "utf8")) as {
    apiVersion: string;
    kind: string;
    spec: {
      completionMode: string;
      completions: number;
      backoffLimitPerIndex: number;
      template: { spec: Pod };
    };
  };
  const configMap = parse(readFileSync(join(K8S, "configmap-s3.yaml"), "utf8")) as {
    kind: string;
    metadata: { name: string };
    data: Record<string, string>;
  };

  it("given the Job, then it is an Indexed batch/v1 Job whose shard count is its completions, with no volume claim", () => {
    expect(job.apiVersion).toBe("batch/v1");
    expect(job.kind).toBe("Job");
    expect(job.spec.completionMode).toBe("Indexed");
    expect(job.spec.backoffLimitPerIndex).toBeGreaterThan(0);
    const pod = job.spec.template.spec;
    const env = Object.fromEntries(pod.containers[0]!.env.map((e) => [e.name, e.value]));
    expect(Number(env.MLBATCH_SHARD_COUNT)).toBe(job.spec.completions);
    expect(pod.volumes.some((v) => "persistentVolumeClaim" in v)).toBe(false);
    expect(pod.serviceAccountName).toBe("mlbatch");
    expect(pod.volumes.find((v) => v.name === "config")).toMatchObject({
      configMap: { name: configMap.metadata.name },
    });
  });

  it("given its ConfigMap, then the config is valid and its inputs and outputs are on s3://", () => {
    expect(configMap.kind).toBe("ConfigMap");
    const settings = Settings.parse(parse(configMap.data["inference.yaml"] ?? ""));
    const job = settings.job as { inputs: { path: string }; outputs: { path: string; KIND: string } };
    expect(job.inputs.path).toMatch(/^s3:\/\//);
    expect(job.outputs.path).toMatch(/^s3:\/\/.*\/$/);
    expect(job.outputs.KIND).toBe("ParquetWriter");
  });
});
