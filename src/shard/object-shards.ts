/**
 * A sharded run on an object store, committed without renames (see {@link ShardLayout}): each part is
 * one object under the plan's id, uploaded whole with its stamp as object metadata (plan, unit, rows,
 * SHA-256), first writer wins (`If-None-Match: *`); the manifest `_SUCCESS` is written last, with a
 * conditional put, so that exactly one committer wins; readers that follow it see whole outputs only.
 * Parts of other plans (dead attempts, a replaced output) are never listed by it, and are deleted once a
 * new manifest is in.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { Database } from "../data/database.js";
import { localFile } from "../data/object-store/inputs.js";
import { ObjectStore } from "../data/object-store/object-store.js";
import type { RowProducer, Writer } from "../data/writers/writer.js";
import { MlbatchError } from "../errors.js";
import { PLAN, planFolder, type ShardLayout, SUCCESS } from "./layout.js";
import {
  type CommitOutcome,
  freshManifest,
  type Manifest,
  type PartExpectation,
  type PartStatus,
} from "./manifest.js";
import type { Plan } from "./plan.js";

/** The object metadata a part carries (`x-amz-meta-mlbatch-*`). */
const META = {
  plan: "mlbatch-plan",
  unit: "mlbatch-unit",
  read: "mlbatch-rows-read",
  dropped: "mlbatch-rows-dropped",
  rows: "mlbatch-rows",
  sha256: "mlbatch-sha256",
} as const;

/** Whether the part object at `uri` is complete and valid for its unit, from its metadata alone. */
export async function checkObjectPart(uri: string, expected: PartExpectation): Promise<PartStatus> {
  const object = await ObjectStore.fromEnvironment().head(uri, "write");
  if (object === undefined) return { valid: false, rows: 0, dropped: 0, reason: "missing" };
  const m = object.metadata;
  const rows = Number(m[META.rows] ?? Number.NaN);
  const dropped = Number(m[META.dropped] ?? Number.NaN);
  const fail = (reason: string): PartStatus => ({ valid: false, rows, dropped, reason });
  if (m[META.plan] !== expected.planId) return fail("written for another plan");
  if (m[META.unit] !== expected.unit) return fail("written for another unit");
  if (rows + dropped !== expected.rows)
    return fail(`${rows} rows + ${dropped} dropped, the unit has ${expected.rows}`);
  return { valid: true, rows, dropped };
}

/**
 * Writes the part locally (`temp`), then uploads it as `uri` unless a valid part is there already (a
 * twin shard's, kept); an invalid one is replaced. The object appears whole or not at all.
 *
 * @returns the rows written, and whether this call placed the part
 */
export async function writeObjectPart(
  db: Database,
  writer: Writer,
  produce: RowProducer,
  target: { readonly path: string; readonly temp: string },
  stamp: PartExpectation & { readonly dropped: number },
): Promise<{ rows: number; placed: boolean }> {
  const { path, temp } = target;
  await mkdir(dirname(temp), { recursive: true });
  try {
    const metadata = {
      mlbatch_plan: stamp.planId,
      mlbatch_unit: stamp.unit,
      mlbatch_rows_read: String(stamp.rows),
      mlbatch_rows_dropped: String(stamp.dropped),
    };
    const rows = await writer.writeFile(db, temp, produce, { metadata, part: path });
    const objectMetadata = {
      [META.plan]: stamp.planId,
      [META.unit]: stamp.unit,
      [META.read]: String(stamp.rows),
      [META.dropped]: String(stamp.dropped),
      [META.rows]: String(rows),
      [META.sha256]: await sha256(temp),
    };
    const store = ObjectStore.fromEnvironment();
    if ((await store.putFile(path, temp, { ifNoneMatch: true, metadata: objectMetadata })) === "created") {
      return { rows, placed: true };
    }
    if ((await checkObjectPart(path, stamp)).valid) return { rows, placed: false };
    await store.putFile(path, temp, { metadata: objectMetadata });
    return { rows, placed: true };
  } finally {
    await rm(temp, { force: true });
  }
}

/** The manifest at `uri`, or undefined. */
export async function readObjectManifest(uri: string): Promise<(Manifest & { etag: string }) | undefined> {
  const found = await ObjectStore.fromEnvironment().getText(uri, "write");
  if (found === undefined) return undefined;
  try {
    return { ...(JSON.parse(found.text) as Manifest), etag: found.etag };
  } catch {
    return undefined;
  }
}

/**
 * Commits the plan if every unit has a valid part: writes the manifest (`If-None-Match: *`, or over an
 * older output's manifest in mode `overwrite` with `If-Match` on its tag), then deletes the parts no
 * manifest lists.
 *
 * @throws MlbatchError `E_WRITE` when an older output exists in mode `error`, or another plan committed
 */
export async function commitObjects(
  db: Database,
  layout: ShardLayout,
  plan: Plan,
  mode: "error" | "overwrite",
): Promise<CommitOutcome> {
  const current = await readObjectManifest(layout.manifest);
  if (current?.plan_id === plan.plan_id) return { status: "committed", manifest: current, byThisCall: false };
  const parts: Manifest["parts"][number][] = [];
  const missing: Plan["units"][number][] = [];
  const store = ObjectStore.fromEnvironment();
  for (const unit of plan.units) {
    const uri = layout.part(unit.id, plan.plan_id);
    const status = await checkObjectPart(uri, { planId: plan.plan_id, unit: unit.id, rows: unit.rows });
    const object = status.valid ? await store.head(uri, "write") : undefined;
    if (object === undefined) {
      missing.push(unit);
      continue;
    }
    const file = uri.slice(layout.output.length + 1);
    const { rows, dropped } = status;
    parts.push({
      unit: unit.id,
      file,
      rows,
      dropped,
      bytes: object.size,
      sha256: object.metadata[META.sha256] ?? "",
    });
  }
  if (missing.length > 0) return { status: "incomplete", missing };
  const first = parts[0];
  const manifest = await freshManifest(
    db,
    plan,
    parts,
    first === undefined ? undefined : await localFile(db, layout.part(first.unit, plan.plan_id)),
  );
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if (current !== undefined && mode === "error") throw existing(layout);
  const put = await store.putText(
    layout.manifest,
    text,
    current === undefined ? { ifNoneMatch: true } : { ifMatch: current.etag },
  );
  if (put === "exists") {
    const winner = await readObjectManifest(layout.manifest);
    if (winner?.plan_id === plan.plan_id) return { status: "committed", manifest: winner, byThisCall: false };
    throw new MlbatchError(
      "E_WRITE",
      `cannot commit outputs "${layout.output}": another run committed a different plan there meanwhile ` +
        `(${winner?.plan_id.slice(0, 12) ?? "unknown"}); nothing of this run was published. Run again.`,
    );
  }
  await removeUnlisted(layout, manifest);
  return { status: "committed", manifest, byThisCall: true };
}

/**
 * Before a new plan replaces the one at the output: the old plan file and the parts no committed
 * manifest lists are deleted (the committed output stays readable until the new manifest replaces it).
 */
export async function clearObjectStaging(layout: ShardLayout): Promise<void> {
  const store = ObjectStore.fromEnvironment();
  const committed = await readObjectManifest(layout.manifest);
  await store.delete([`${layout.output}/${PLAN}`]);
  if (committed !== undefined) await removeUnlisted(layout, committed);
  else await store.delete((await shardObjects(layout)).map((o) => o.uri));
}

/** Deletes the part objects under the output that the manifest does not list (other plans' parts). */
async function removeUnlisted(layout: ShardLayout, manifest: Manifest): Promise<void> {
  const listed = new Set(manifest.parts.map((part) => `${layout.output}/${part.file}`));
  const stale = (await shardObjects(layout)).filter((o) => !listed.has(o.uri)).map((o) => o.uri);
  await ObjectStore.fromEnvironment().delete(stale);
}

/** The part objects of any plan under the output. */
async function shardObjects(layout: ShardLayout) {
  const objects = await ObjectStore.fromEnvironment().list(`${layout.output}/`);
  return objects.filter((o) => PART.test(o.uri.slice(layout.output.length + 1)));
}

const PART = /^plan-[0-9a-f]+\/part-\d+\.parquet$/;

function existing(layout: ShardLayout): MlbatchError {
  return new MlbatchError(
    "E_WRITE",
    `cannot commit outputs "${layout.output}": an output of another plan is committed there and the ` +
      `writer's mode is "error". The finished parts wait under "${layout.output}/${planFolder("")}...": ` +
      `set mode: overwrite and run "mlbatch commit <config>", or write elsewhere. (${SUCCESS} is unchanged.)`,
  );
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
