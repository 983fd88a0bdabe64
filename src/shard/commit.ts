/**
 * The commit of a sharded run: when every planned unit has a valid part, write the manifest `_SUCCESS`
 * (exclusively: one committer wins, the others find the same manifest), then rename the staging folder
 * to the output path in one step.
 */
import { readdir, readFile, readlink, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Database } from "../data/database.js";
import { publishFolder } from "../data/writers/publish.js";
import { isMlbatchError, MlbatchError, messageOf } from "../errors.js";
import { parseScratch, scratchPath } from "../scratch.js";
import { createExclusive } from "./exclusive.js";
import { PLAN, type ShardLayout, TEMP_PREFIX } from "./layout.js";
import { type CommitOutcome, freshManifest, type Manifest } from "./manifest.js";
import { clearObjectStaging, commitObjects, readObjectManifest } from "./object-shards.js";
import { checkPart, fileSha256 } from "./parts.js";
import type { Plan } from "./plan.js";

export type { CommitOutcome, Manifest };

/**
 * The committed output's manifest when it belongs to the plan `planId`, else undefined.
 */
export async function committedManifest(layout: ShardLayout, planId?: string): Promise<Manifest | undefined> {
  const manifest = layout.remote
    ? await readObjectManifest(layout.manifest)
    : await readManifest(layout.manifest);
  return manifest !== undefined && (planId === undefined || manifest.plan_id === planId)
    ? manifest
    : undefined;
}

/**
 * Commits the run if every unit of the plan has a valid part: writes `_SUCCESS` and publishes the
 * staging folder as the output (an older output is refused in mode `error`, replaced in `overwrite`).
 *
 * @throws MlbatchError `E_WRITE` when the output cannot be published; `E_INTERNAL` when counts do not reconcile
 * @example
 * ```ts
 * const outcome = await commitRun(db, new ShardLayout("out/predictions"), plan, "error");
 * if (outcome.status === "incomplete") logger.warn(`missing units: ${outcome.missing.map((u) => u.id)}`);
 * ```
 */
export async function commitRun(
  db: Database,
  layout: ShardLayout,
  plan: Plan,
  mode: "error" | "overwrite",
): Promise<CommitOutcome> {
  if (layout.remote) return commitObjects(db, layout, plan, mode);
  // A twin committer may publish (move the staging folder, then link it) while this one checks the parts.
  const theirs = async (): Promise<CommitOutcome | undefined> => {
    const manifest = await twinPublished(layout, plan.plan_id);
    return manifest === undefined ? undefined : { status: "committed", manifest, byThisCall: false };
  };
  try {
    const outcome = await tryCommit(db, layout, plan, mode);
    return outcome.status === "incomplete" ? ((await theirs()) ?? outcome) : outcome;
  } catch (error) {
    const outcome = await theirs();
    if (outcome === undefined) throw error;
    return outcome;
  }
}

async function tryCommit(
  db: Database,
  layout: ShardLayout,
  plan: Plan,
  mode: "error" | "overwrite",
): Promise<CommitOutcome> {
  const done = await committedManifest(layout, plan.plan_id);
  if (done !== undefined && !(await exists(layout.staging))) {
    return { status: "committed", manifest: done, byThisCall: false };
  }
  let manifest = await readManifest(layout.stagedManifest);
  let byThisCall = false;
  if (manifest === undefined) {
    const parts = await checkedParts(db, layout, plan);
    if ("missing" in parts) return { status: "incomplete", missing: parts.missing };
    const first = parts.parts[0];
    const fresh = await freshManifest(
      db,
      plan,
      parts.parts,
      first === undefined ? undefined : layout.part(first.unit, plan.plan_id),
    );
    byThisCall = await createExclusive(
      layout.stagedManifest,
      layout.temp("manifest"),
      `${JSON.stringify(fresh, null, 2)}\n`,
    );
    manifest = byThisCall ? fresh : await readManifest(layout.stagedManifest);
    if (manifest === undefined || !sameParts(manifest, fresh)) {
      throw new MlbatchError(
        "E_WRITE",
        `another commit of "${layout.output}" recorded different parts: remove "${layout.staging}" and run again.`,
      );
    }
  }
  await publish(layout, manifest.plan_id, mode);
  if (byThisCall) await removeTemporaries(layout.output);
  return { status: "committed", manifest, byThisCall };
}

/** Every planned unit's part with its rows, size and checksum, or the units without a valid part. */
async function checkedParts(
  db: Database,
  layout: ShardLayout,
  plan: Plan,
): Promise<{ parts: Manifest["parts"][number][] } | { missing: Plan["units"][number][] }> {
  const parts: Manifest["parts"][number][] = [];
  const missing: Plan["units"][number][] = [];
  for (const unit of plan.units) {
    const path = layout.part(unit.id, plan.plan_id);
    const status = await checkPart(db, path, { planId: plan.plan_id, unit: unit.id, rows: unit.rows });
    if (!status.valid) {
      missing.push(unit);
      continue;
    }
    const bytes = (await stat(path)).size;
    const file = path.slice(layout.staging.length + 1);
    const sha256 = await fileSha256(path);
    parts.push({ unit: unit.id, file, rows: status.rows, dropped: status.dropped, bytes, sha256 });
  }
  return missing.length > 0 ? { missing } : { parts };
}

/**
 * Publishes the staging folder as the output: it becomes a parts folder beside the output, and the output
 * path a link to it (see publishFolder: one rename, so readers see the old output or the new one). When a
 * twin committer did it first, its output (same plan) is kept; an older output is refused (`error`) or
 * replaced (`overwrite`, only when mlbatch wrote it).
 */
async function publish(layout: ShardLayout, planId: string, mode: "error" | "overwrite"): Promise<void> {
  const parts = scratchPath(layout.output, "parts");
  try {
    await rename(layout.staging, parts);
  } catch (error) {
    // A twin committer moved the staging folder first: its link follows within moments.
    if ((await twinPublished(layout, planId)) !== undefined) return;
    throw cannotCommit(layout, error);
  }
  try {
    await publishFolder(parts, layout.output, mode);
  } catch (error) {
    if ((await committedManifest(layout, planId)) !== undefined) {
      await rm(parts, { recursive: true, force: true });
      return;
    }
    // The finished run waits in the staging folder for `mlbatch commit`.
    await rename(parts, layout.staging).catch(() => undefined);
    if (mode === "error" && isMlbatchError(error, "E_WRITE") && (await exists(layout.output))) {
      throw new MlbatchError(
        "E_WRITE",
        `cannot commit outputs "${layout.output}": it already exists and the writer's mode is "error". The ` +
          `finished run waits in "${layout.staging}": remove the old output and run "mlbatch commit <config>", ` +
          "or set mode: overwrite.",
      );
    }
    throw cannotCommit(layout, error);
  }
}

/**
 * Puts back the staging folder of a committer that died between its two renames (staging to parts
 * folder, then the link): its finished parts are not lost, and the next commit publishes them.
 */
export async function recoverStaging(layout: ShardLayout): Promise<void> {
  // On an object store nothing is ever renamed: there is nothing to put back.
  if (layout.remote || (await exists(layout.staging))) return;
  const folder = dirname(layout.output);
  const published = await readlink(layout.output).catch(() => undefined);
  for (const name of await readdir(folder).catch(() => [] as string[])) {
    const entry = parseScratch(name);
    if (entry?.kind !== "parts" || entry.live || entry.output !== basename(layout.output)) continue;
    if (name === published || !(await exists(join(folder, name, PLAN)))) continue;
    await rename(join(folder, name), layout.staging).catch(() => undefined);
    return;
  }
}

/**
 * Removes the staging of a plan about to be replaced: the staging folder; on an object store, the plan
 * and the parts no committed manifest lists (the committed output stays until a new manifest replaces it).
 */
export async function clearStaging(layout: ShardLayout): Promise<void> {
  if (layout.remote) await clearObjectStaging(layout);
  else await rm(layout.staging, { recursive: true, force: true });
}

/** The manifest of this plan at the output, waiting up to 10 s for a twin committer to link it. */
async function twinPublished(layout: ShardLayout, planId: string): Promise<Manifest | undefined> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const manifest = await committedManifest(layout, planId);
    if (manifest !== undefined || (await exists(layout.staging))) return manifest;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

function cannotCommit(layout: ShardLayout, error: unknown): MlbatchError {
  if (error instanceof MlbatchError) return error;
  return new MlbatchError("E_WRITE", `cannot commit outputs "${layout.output}": ${messageOf(error)}`, {
    cause: error,
  });
}

async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

function sameParts(a: Manifest, b: Manifest): boolean {
  const key = (m: Manifest) => JSON.stringify([m.plan_id, m.parts.map((p) => [p.unit, p.rows, p.sha256])]);
  return key(a) === key(b);
}

/**
 * Removes what killed shards left behind (temporary files, and the segments of a part being written, are
 * hidden, but not needed in the output).
 */
async function removeTemporaries(folder: string): Promise<void> {
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(TEMP_PREFIX) || parseScratch(name)?.live === false)
      await rm(`${folder}/${name}`, { force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
