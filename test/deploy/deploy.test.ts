/**
 * The deploy files: the Dockerfile (stages, non-root, production dependencies only, ONNX install step
 * skipped) and the Kubernetes manifests (an Indexed Job with per-index retries, its ConfigMap holding a
 * valid config). A real `docker build` runs only where a Docker engine answers.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { Settings } from "../../src/settings.js";
import { ROOT } from "../helpers.js";

const DEPLOY = join(ROOT, "deploy");

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The instructions of a Dockerfile, per stage: comments dropped, continuation lines joined. */
function stages(text: string): Instruction[][] {
  const lines = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const result: Instruction[][] = [];
  for (const line of lines) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    if (instruction.keyword === "FROM") result.push([]);
    result.at(-1)?.push(instruction);
  }
  return result;
}

const dockerfile = stages(readFileSync(join(DEPLOY, "Dockerfile"), "utf8"));
const [build = [], runtime = []] = dockerfile;
const args = (stage: Instruction[], keyword: string) =>
  stage.filter((i) => i.keyword === keyword).map((i) => i.args);

describe("deploy/Dockerfile", () => {
  it("given the Dockerfile, then it has a build stage and a slim Node 20 runtime stage", () => {
    expect(dockerfile).toHaveLength(2);
    expect(args(build, "FROM")[0]).toMatch(/^node:20-bookworm-slim AS build$/i);
    expect(args(runtime, "FROM")[0]).toMatch(/^node:20-bookworm-slim AS runtime$/i);
  });

  it("given the build stage, then .npmrc (ONNX install skipped) is copied before npm ci, and dev dependencies are pruned", () => {
    const copyNpmrc = build.findIndex((i) => i.keyword === "COPY" && i.args.includes(".npmrc"));
    const install = build.findIndex((i) => i.keyword === "RUN" && i.args.includes("npm ci"));
    expect(copyNpmrc).toBeGreaterThanOrEqual(0);
    expect(copyNpmrc).toBeLessThan(install);
    expect(readFileSync(join(ROOT, ".npmrc"), "utf8")).toMatch(/^onnxruntime-node-install=skip$/m);
    expect(args(build, "RUN").join("\n")).toMatch(/npm prune --omit=dev/);
    expect(args(build, "RUN").join("\n")).toMatch(/npm run build/);
  });

  it("given the runtime stage, then it runs as a non-root user, with only node_modules, dist, bin and package.json", () => {
    const user = args(runtime, "USER").at(-1);
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user);
    const copied = args(runtime, "COPY").map((a) => a.replace(/--from=\S+\s+/, "").split(/\s+/)[0]);
    expect(copied.sort()).toEqual(["/app/dist", "/app/node_modules", "bin", "package.json"]);
    expect(args(runtime, "RUN")).toEqual([]);
    expect(JSON.parse(args(runtime, "ENTRYPOINT")[0] ?? "[]")).toEqual(["node", "/app/bin/mlbatch.js"]);
  });

  const docker = spawnSync("docker", ["info"], { encoding: "utf8", timeout: 20_000 });
  it.skipIf(docker.status !== 0)(
    "given a Docker engine, when the image is built, then it prints the CLI's version (skipped: `docker info` fails here, no engine)",
    () => {
      const built = spawnSync(
        "docker",
        ["build", "-f", join(DEPLOY, "Dockerfile"), "-t", "mlbatch:test", ROOT],
        {
          encoding: "utf8",
          timeout: 600_000,
        },
      );
      expect(built.status, built.stderr).toBe(0);
      const version = spawnSync("docker", ["run", "--rm", "mlbatch:test", "--version"], { encoding: "utf8" });
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    },
    600_000,
  );
});

describe("deploy/k8s", () => {
  const job = parse(readFileSync(join(DEPLOY, "k8s", "job.yaml"), "utf8")) as {
    kind: string;
    spec: Record<string, unknown> & {
      template: {
        spec: {
          restartPolicy: string;
          containers: { args: string[]; env: { name: string; value: string }[] }[];
        };
      };
    };
  };
  const [configMap] = parseAllDocuments(readFileSync(join(DEPLOY, "k8s", "configmap.yaml"), "utf8")).map(
    (d) => d.toJS() as { kind: string; metadata: { name: string }; data: Record<string, string> },
  );

  it("given the Job, then it is Indexed, retried per index, and tells mlbatch the shard count", () => {
    expect(job.kind).toBe("Job");
    expect(job.spec).toMatchObject({ completionMode: "Indexed", backoffLimitPerIndex: expect.any(Number) });
    expect(job.spec.parallelism).toBeLessThanOrEqual(job.spec.completions as number);
    const [container] = job.spec.template.spec.containers;
    expect(job.spec.template.spec.restartPolicy).toBe("Never");
    expect(container?.env).toContainEqual({
      name: "MLBATCH_SHARD_COUNT",
      value: String(job.spec.completions),
    });
    expect(container?.args).toEqual(["run", "/etc/mlbatch/inference.yaml"]);
  });

  it("given the ConfigMap, then it holds a config mlbatch accepts, with a Parquet folder output", () => {
    expect(configMap?.kind).toBe("ConfigMap");
    const settings = Settings.parse(parse(configMap?.data["inference.yaml"] ?? ""));
    expect(settings.job.outputs.KIND).toBe("ParquetWriter");
    expect(JSON.stringify(job)).toContain(configMap?.metadata.name);
  });
});
