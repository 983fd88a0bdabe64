/**
 * Every manifest in deploy/k8s/ against the Kubernetes API's own schemas: the JSON Schemas generated from
 * each release's OpenAPI document, as the `kubernetes-validate` package bundles them (test/requirements.txt;
 * no network at test time), in strict mode (an unknown field is an error, as `kubectl apply
 * --validate=strict` makes it).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, stringify } from "yaml";
import { ROOT, removeDir, tempDir } from "../helpers.js";

const K8S = join(ROOT, "deploy", "k8s");
/** The release where both failure features the Job uses are GA (podFailurePolicy 1.31, backoffLimitPerIndex 1.33), and the newest bundled. */
const VERSIONS = ["1.33.0", "latest"];

/** Validates every document of each file against each version; one result per document and version. */
const VALIDATE = `
import json, sys, yaml, kubernetes_validate as kv
versions = [kv.latest_version() if v == "latest" else v for v in json.loads(sys.argv[1])]
results = []
for path in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(path)):
        if doc is None:
            continue
        for version in versions:
            try:
                kv.validate(doc, version, True)
                error = None
            except kv.ValidationError as e:
                error = f"{'.'.join(str(p) for p in e.path)}: {e.message}"
            results.append({"file": path, "kind": doc.get("kind"), "version": version, "error": error})
print(json.dumps(results))
`;

interface Result {
  readonly file: string;
  readonly kind: string;
  readonly version: string;
  readonly error: string | null;
}

function validate(files: string[]): Result[] {
  const python = inject("python");
  try {
    execFileSync(python, ["-c", "import kubernetes_validate"], { stdio: "pipe" });
  } catch {
    throw new Error(
      `${python} cannot import kubernetes_validate: run ${python} -m pip install -r test/requirements.txt`,
    );
  }
  const out = execFileSync(python, ["-c", VALIDATE, JSON.stringify(VERSIONS), ...files], {
    encoding: "utf8",
  });
  return JSON.parse(out) as Result[];
}

const manifests = readdirSync(K8S)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort()
  .map((name) => join(K8S, name));

let dir: string;
beforeAll(() => {
  dir = tempDir("mlbatch-k8s-");
});
afterAll(() => removeDir(dir));

describe("deploy/k8s against the Kubernetes API's schemas", () => {
  it("given every manifest in deploy/k8s, then each document is valid in Kubernetes 1.33 and the newest release", () => {
    expect(manifests.map((path) => path.slice(K8S.length + 1))).toEqual(
      expect.arrayContaining(["configmap.yaml", "job.yaml"]),
    );
    const results = validate(manifests);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
    // Each file was read and each of its documents checked against both versions.
    expect(new Set(results.map((r) => r.file))).toEqual(new Set(manifests));
    expect(results.length % VERSIONS.length).toBe(0);
    expect(results.map((r) => r.kind)).toEqual(expect.arrayContaining(["Job", "ConfigMap"]));
  });

  it("given the Job with a misspelt field, a mistyped value or a policy rule without its condition, then the schemas refuse each (expected failures)", () => {
    const job = parse(readFileSync(join(K8S, "job.yaml"), "utf8")) as {
      spec: Record<string, unknown> & { podFailurePolicy: { rules: Record<string, unknown>[] } };
    };
    const variants: [string, (spec: typeof job.spec) => void, RegExp][] = [
      ["misspelt", (s) => Object.assign(s, { backoffLimitPerIndx: 3 }), /backoffLimitPerIndx.*unexpected/],
      [
        "mistyped",
        (s) => Object.assign(s, { completions: "4" }),
        /^spec\.completions: '4' is not of type 'integer'/,
      ],
      [
        "no condition",
        (s) => Object.assign(s.podFailurePolicy.rules[0]!, { onExitCodes: { operator: "In" } }),
        /values' is a required property/,
      ],
    ];
    const files = variants.map(([name, change]) => {
      const copy = structuredClone(job);
      change(copy.spec);
      const path = join(dir, `${name.replace(" ", "-")}.yaml`);
      writeFileSync(path, stringify(copy));
      return path;
    });
    const results = validate(files);
    expect(results).toHaveLength(variants.length * VERSIONS.length);
    for (const [k, [name, , error]] of variants.entries()) {
      for (const result of results.filter((r) => r.file === files[k]))
        expect(result.error, name).toMatch(error);
    }
  });
});
