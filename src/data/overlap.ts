/**
 * Outputs must never be inputs: writing the predictions over the data they come from (the same file, a
 * file inside an input folder or glob, a folder holding the inputs) would destroy the inputs, or feed the
 * outputs back into the next run.
 */
import { realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { MlbatchError } from "../errors.js";
import { globPattern } from "./object-store/glob.js";
import { isObjectUri, parseObjectUri } from "./object-store/uri.js";

/** Something the job writes, as its config names it. */
export interface OutputPath {
  /** The config key, for messages: `outputs.path`, `validation.report`, ... */
  readonly key: string;
  /** Undefined when the job does not write it: skipped. */
  readonly path: string | undefined;
  /** A folder of parts (its files are what an input glob might match), not one file. */
  readonly folder?: boolean | undefined;
}

const GLOB = /[*?[]/;
/** Where `s3://` URIs are placed to compare them (no local path starts with a NUL). */
const OBJECT_ROOT = "/\0s3";

/**
 * Refuses outputs that are the input (local paths and `s3://` URIs alike), lie inside it (an input folder, or a name the input glob matches),
 * or hold it (a folder the input is in), and two outputs at one place.
 *
 * @param input - `inputs.path`: a file, a folder or a glob
 * @throws MlbatchError `E_CONFIG` naming both config keys and paths, and what to do
 * @example
 * ```ts
 * await checkOutputsApart("data/*.parquet", [{ key: "outputs.path", path: "data/predictions.parquet" }]);
 * // E_CONFIG: outputs.path "data/predictions.parquet" is inside the input (inputs.path "data/*.parquet") ...
 * ```
 */
export async function checkOutputsApart(input: string, outputs: readonly OutputPath[]): Promise<void> {
  const glob = GLOB.test(input);
  const base = await real(glob ? globBase(input) : input);
  const pattern = glob ? globPattern(join(base, relative(globBase(input), input))) : undefined;
  const seen: { output: OutputPath; target: string }[] = [];
  for (const output of outputs) {
    if (output.path === undefined) continue;
    const target = await real(output.path);
    const other = seen.find((s) => within(s.target, target) || within(target, s.target));
    if (other !== undefined) {
      throw new MlbatchError(
        "E_CONFIG",
        `job.${output.key} "${output.path}" and job.${other.output.key} "${other.output.path}" are the same ` +
          "place (or one holds the other): one would replace the other, so nothing was read or written. " +
          "Give each its own path.",
      );
    }
    seen.push({ output, target });
    const how =
      target === base && !glob
        ? "is the input"
        : (
              pattern === undefined
                ? within(base, target)
                : pattern.test(target) ||
                  (output.folder === true &&
                    pattern.test(join(target, basename(input).replace(/[*?]/g, "x"))))
            )
          ? "is inside the input"
          : within(target, base)
            ? "holds the input"
            : undefined;
    if (how === undefined) continue;
    throw new MlbatchError(
      "E_CONFIG",
      `job.${output.key} "${output.path}" ${how} (job.inputs.path "${input}"): writing there would ` +
        "replace or change the inputs, so nothing was read or written. Write it elsewhere.",
    );
  }
}

/**
 * The real path of `path`, or of its nearest existing folder joined with the rest. An `s3://` URI is
 * compared as its bucket and key, under a root no local path has: a local path never overlaps an object.
 */
async function real(path: string): Promise<string> {
  if (isObjectUri(path)) {
    const { bucket, key } = parseObjectUri(path);
    return join(OBJECT_ROOT, bucket, key);
  }
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(await real(parent), basename(absolute));
  }
}

/** True when `inner` is `outer` or below it. */
function within(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** The folders of a glob before its first wildcard. */
function globBase(glob: string): string {
  const parts = glob.split("/");
  const first = parts.findIndex((part) => GLOB.test(part));
  return parts.slice(0, first).join("/") || ".";
}
