/**
 * The decoder of `ai.onnx.ml` opset 5's `TreeEnsemble`: interior nodes (`nodes_*`, their splits and modes
 * as tensors) and leaves (`leaf_*`) are separate lists, referenced by index; `BRANCH_MEMBER` sets follow
 * each other in `membership_values`.
 */
import type { OnnxNode } from "../../onnx/graph.js";
import { Unsupported } from "../unsupported.js";
import { int32s } from "./decode-v3.js";
import { type Decoded, MODE } from "./decoded.js";

/** Opset 5's mode code of `BRANCH_MEMBER` (its `LEAF` code here, see {@link MODE}). */
const V5_MEMBER = 6;
/** Opset 5's aggregate codes (AVERAGE 0, SUM 1, MIN 2, MAX 3) as {@link Decoded.aggregate} codes. */
const V5_AGGREGATES = [1, 0, 2, 3];

/** The interior-node and leaf lists. */
interface Lists {
  readonly roots: Int32Array;
  readonly features: Int32Array;
  readonly trueIds: Int32Array;
  readonly falseIds: Int32Array;
  readonly trueLeafs: Int32Array;
  readonly falseLeafs: Int32Array;
  readonly tracks: Int32Array;
  readonly targets: Int32Array;
  readonly splits: Float32Array;
  readonly modes: Int32Array;
  readonly weights: Float32Array;
  readonly memberValues: Float32Array;
}

/**
 * Reads an opset-5 `TreeEnsemble`: interior nodes and leaves are separate lists, referenced by index.
 *
 * @throws Unsupported when the node uses something the engine does not reproduce exactly
 */
export function decodeV5(node: OnnxNode): Decoded {
  const a = node.attributes;
  const lists = readLists(node);
  const nI = lists.features.length;
  const nL = lists.targets.length;
  const nTargets = a.get("n_targets")?.int ?? 0;
  if (nTargets < 1) throw new Unsupported("n_targets is missing");
  const aggregate = V5_AGGREGATES[a.get("aggregate_function")?.int ?? 1];
  const post = a.get("post_transform")?.int ?? 0;
  if (aggregate === undefined) throw new Unsupported("aggregate_function is unknown");
  if (post < 0 || post > 4) throw new Unsupported("post_transform is unknown");

  const n = nI + nL;
  const nodes = interiorNodes(lists, n);
  const weightStart = new Int32Array(n + 1);
  for (let j = 0; j < nL; j++) {
    if (lists.targets[j]! < 0 || lists.targets[j]! >= nTargets)
      throw new Unsupported(`leaf ${j} targets ${lists.targets[j]}, out of range`);
    weightStart[nI + j + 1] = 1;
  }
  for (let i = 0; i < n; i++) weightStart[i + 1] = weightStart[i + 1]! + weightStart[i]!;
  for (const root of lists.roots)
    if (root < 0 || root >= nI) throw new Unsupported(`tree root ${root} is not a node`);
  const features = new Int32Array(n);
  features.set(lists.features);
  return {
    classifier: false,
    nTargets,
    aggregate,
    post,
    base: new Float32Array(0),
    labels: undefined,
    binaryCase: false,
    allPositive: true,
    n,
    ...nodes,
    features,
    roots: lists.roots,
    weightStart,
    weightTargets: lists.targets,
    weightValues: lists.weights,
    members: lists.memberValues,
    name: (i) => (i < nI ? `node ${i}` : `leaf ${i - nI}`),
  };
}

function readLists(node: OnnxNode): Lists {
  const a = node.attributes;
  const tensor = (name: string, types: readonly number[], what: string) => {
    const t = a.get(name)?.tensor();
    if (t === undefined) return undefined;
    if (!types.includes(t.dataType)) throw new Unsupported(`${name} is not ${what}`);
    return t.values;
  };
  const ints = (name: string) => int32s(a, name);
  const roots = ints("tree_roots");
  const features = ints("nodes_featureids");
  const trueIds = ints("nodes_truenodeids");
  const falseIds = ints("nodes_falsenodeids");
  const trueLeafs = ints("nodes_trueleafs");
  const falseLeafs = ints("nodes_falseleafs");
  const tracks = ints("nodes_missing_value_tracks_true");
  const targets = ints("leaf_targetids");
  const splits = tensor("nodes_splits", [1], "float32 (double and float16 trees are left to ONNX Runtime)");
  const modes = tensor("nodes_modes", [2, 6], "uint8");
  const weights = tensor("leaf_weights", [1], "float32");
  const memberValues = tensor("membership_values", [1], "float32") ?? new Float32Array(0);
  const nI = features.length;
  for (const [name, length] of [
    ["nodes_truenodeids", trueIds.length],
    ["nodes_falsenodeids", falseIds.length],
    ["nodes_trueleafs", trueLeafs.length],
    ["nodes_falseleafs", falseLeafs.length],
    ["nodes_splits", splits?.length ?? -1],
    ["nodes_modes", modes?.length ?? -1],
  ] as const) {
    if (length !== nI) throw new Unsupported(`${name} has ${length} values for ${nI} nodes`);
  }
  if (weights?.length !== targets.length)
    throw new Unsupported(`leaf_weights has ${weights?.length ?? 0} values for ${targets.length} leaves`);
  if (nI === 0 || roots.length === 0) throw new Unsupported("the ensemble has no nodes");
  return {
    roots,
    features,
    trueIds,
    falseIds,
    trueLeafs,
    falseLeafs,
    tracks,
    targets,
    splits: splits as Float32Array,
    modes: modes as Int32Array,
    weights: weights as Float32Array,
    memberValues: memberValues as Float32Array,
  };
}

/** The interior nodes in the decoded form (leaves after them: nodes `nI + j`). */
function interiorNodes(lists: Lists, n: number) {
  const nI = lists.features.length;
  const nL = lists.targets.length;
  const modes = new Int8Array(n).fill(MODE.LEAF);
  const thresholds = new Float32Array(n);
  const missing = new Uint8Array(n);
  const trueChild = new Int32Array(n).fill(-1);
  const falseChild = new Int32Array(n).fill(-1);
  const child = (id: number, leaf: number) =>
    leaf === 1 ? (id >= 0 && id < nL ? nI + id : -1) : id >= 0 && id < nI ? id : -1;
  const memberStart = new Int32Array(n);
  const memberEnd = new Int32Array(n);
  const values = lists.memberValues;
  // Sets follow each other in membership_values, each ended by a NaN, in the order of their nodes.
  let memberAt = 0;
  for (let i = 0; i < nI; i++) {
    const mode = lists.modes[i]!;
    if (mode < 0 || mode > 6) throw new Unsupported(`node ${i} has mode ${mode}, not one of opset 5's`);
    modes[i] = mode === V5_MEMBER ? MODE.MEMBER : mode;
    thresholds[i] = lists.splits[i]!;
    missing[i] = (lists.tracks[i] ?? 0) === 1 ? 1 : 0;
    trueChild[i] = child(lists.trueIds[i]!, lists.trueLeafs[i]!);
    falseChild[i] = child(lists.falseIds[i]!, lists.falseLeafs[i]!);
    if (mode !== V5_MEMBER) continue;
    memberStart[i] = memberAt;
    while (memberAt < values.length && !Number.isNaN(values[memberAt]!)) memberAt++;
    if (memberAt >= values.length) throw new Unsupported(`node ${i}'s set is missing from membership_values`);
    for (let k = memberStart[i]!; k < memberAt; k++) {
      // ONNX Runtime implements sets of integers only (and refuses the model otherwise).
      if (values[k] !== (values[k]! | 0)) throw new Unsupported("a membership value is not an integer");
    }
    memberEnd[i] = memberAt++;
  }
  return { modes, thresholds, missing, trueChild, falseChild, memberStart, memberEnd };
}
