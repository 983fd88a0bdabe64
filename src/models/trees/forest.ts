import type { Attribute } from "../onnx/attribute.js";
import type { OnnxNode } from "../onnx/graph.js";
import type { KernelFinish, KernelForest } from "./kernel.js";
import { allocate, type Placed, type WasmMemory } from "./memory.js";

/** A tree ensemble compiled for the kernel: node arrays in shared memory, and how scores are finished. */
export interface Forest {
  /** The node arrays, as views of {@link Forest.memory}. */
  readonly kernel: KernelForest;
  /** The shared WebAssembly memory holding the node arrays (batches go after them). */
  readonly memory: WasmMemory;
  /** Where the arrays are in it. */
  readonly placed: Placed;
  readonly finish: KernelFinish;
  /** The number of features a row must have (the largest feature id + 1). */
  readonly nFeatures: number;
  /** Classifier labels: int64 or strings; undefined for regressors. */
  readonly labels: { readonly ints: BigInt64Array } | { readonly strings: readonly string[] } | undefined;
  /** Nodes laid out (internal nodes and leaves of the reachable trees). */
  readonly nodeCount: number;
  /** Bytes of shared node arrays. */
  readonly bytes: number;
}

/** Why an ensemble is left to ONNX Runtime. */
export class Unsupported extends Error {}

const MODES = [
  "BRANCH_LEQ",
  "BRANCH_LT",
  "BRANCH_GTE",
  "BRANCH_GT",
  "BRANCH_EQ",
  "BRANCH_NEQ",
  "LEAF",
] as const;
const LEQ = 0;
const LT = 1;
const GTE = 2;
const GT = 3;
const NEQ = 5;
const LEAF = 6;
/** Opset 5's `BRANCH_MEMBER` (its own code is 6, LEAF's here). */
const MEMBER = 7;
/** Kernel comparison codes of the modes kept as stated (LEQ, LT, GTE, GT, EQ, NEQ, -, MEMBER). */
const RAW = [3, 4, 5, 6, 1, 2, -1, 7];
const AGGREGATES = ["SUM", "AVERAGE", "MIN", "MAX"];
const POSTS = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"];

/** The float32 just below `t` (for `x < t` as `x <= below(t)` on float32 x). */
function below(t: number): number {
  const f = new Float32Array([t]);
  const u = new Uint32Array(f.buffer);
  if (t === 0) u[0] = 0x80000001;
  else if (t > 0) u[0] = u[0]! - 1;
  else u[0] = u[0]! + 1;
  return f[0]!;
}

/** A tree ensemble read from either operator: nodes and leaves by index, children by index. */
interface Decoded {
  readonly classifier: boolean;
  readonly nTargets: number;
  readonly aggregate: number;
  readonly post: number;
  readonly base: Float32Array;
  readonly labels: Forest["labels"];
  readonly binaryCase: boolean;
  readonly allPositive: boolean;
  /** Nodes, leaves included. */
  readonly n: number;
  /** 0-5 the `BRANCH_*` modes, 6 `LEAF`, 7 `BRANCH_MEMBER`. */
  readonly modes: Int8Array;
  readonly features: Int32Array;
  readonly thresholds: Float32Array;
  /** 1: a NaN takes the true branch. */
  readonly missing: Int32Array;
  /** A node's children (node indexes; -1 where the attributes name none that exists). */
  readonly trueChild: Int32Array;
  readonly falseChild: Int32Array;
  /** Each tree's root. */
  readonly roots: Int32Array;
  /** The weights of node i are [weightStart[i], weightStart[i + 1]) of weightTargets and weightValues. */
  readonly weightStart: Int32Array;
  readonly weightTargets: Int32Array;
  readonly weightValues: Float32Array;
  /** `BRANCH_MEMBER` node i's set is members[memberStart[i], memberEnd[i]). */
  readonly memberStart: Int32Array;
  readonly memberEnd: Int32Array;
  readonly members: Float32Array;
  /** A node's name, for messages: `node 3 of tree 5`. */
  readonly name: (i: number) => string;
}

/**
 * Compiles an `ai.onnx.ml` `TreeEnsembleRegressor` or `TreeEnsembleClassifier` (opsets 1 to 3) or
 * `TreeEnsemble` (opset 5) node into the kernel's layout, with ONNX Runtime's reading of the attributes.
 *
 * @throws Unsupported with the reason when the node uses something the engine does not reproduce exactly
 */
export function compileForest(node: OnnxNode): Forest {
  if (node.opType === "TreeEnsemble") return layOut(decodeV5(node));
  if (node.opType === "TreeEnsembleRegressor" || node.opType === "TreeEnsembleClassifier") {
    return layOut(decodeV3(node));
  }
  throw new Unsupported(`${node.opType} is not a tree ensemble the engine runs`);
}

/**
 * Reads a `TreeEnsembleRegressor` or `TreeEnsembleClassifier` as ONNX Runtime does: roots are the first
 * node of each run of tree ids; weights on internal nodes are ignored.
 */
function decodeV3(node: OnnxNode): Decoded {
  const a = node.attributes;
  for (const name of a.keys()) {
    if (name.endsWith("_as_tensor"))
      throw new Unsupported(`attribute ${name} (double precision) is not supported`);
  }
  const ints = (name: string): Int32Array => {
    try {
      return a.get(name)?.int32s() ?? new Int32Array(0);
    } catch {
      throw new Unsupported(`${name} has a value beyond 32 bits`);
    }
  };
  const floats = (name: string): Float32Array => a.get(name)?.floats() ?? new Float32Array(0);
  const str = (name: string, fallback: string): string => a.get(name)?.string ?? fallback;
  const classifier = node.opType === "TreeEnsembleClassifier";
  const prefix = classifier ? "class" : "target";

  const treeIds = ints("nodes_treeids");
  const nodeIds = ints("nodes_nodeids");
  const featureIds = ints("nodes_featureids");
  const trueIds = ints("nodes_truenodeids");
  const falseIds = ints("nodes_falsenodeids");
  const thresholds = floats("nodes_values");
  const missing = ints("nodes_missing_value_tracks_true");
  const modes = (a.get("nodes_modes") as Attribute | undefined)?.codes(MODES) ?? new Int8Array(0);
  const n = treeIds.length;
  for (const [name, length] of [
    ["nodes_nodeids", nodeIds.length],
    ["nodes_featureids", featureIds.length],
    ["nodes_truenodeids", trueIds.length],
    ["nodes_falsenodeids", falseIds.length],
    ["nodes_values", thresholds.length],
    ["nodes_modes", modes.length],
  ] as const) {
    if (length !== n) throw new Unsupported(`${name} has ${length} values for ${n} nodes`);
  }
  if (n === 0) throw new Unsupported("the ensemble has no nodes");
  if (modes.includes(-1)) throw new Unsupported("a node mode is not one of ONNX's BRANCH_* or LEAF");

  const aggregateName = classifier ? "SUM" : str("aggregate_function", "SUM");
  const aggregate = AGGREGATES.indexOf(aggregateName);
  const post = POSTS.indexOf(str("post_transform", "NONE"));
  if (aggregate < 0) throw new Unsupported(`aggregate_function ${aggregateName} is unknown`);
  if (post < 0) throw new Unsupported(`post_transform ${str("post_transform", "")} is unknown`);

  let labels: Forest["labels"];
  let nTargets: number;
  if (classifier) {
    const strings = a.get("classlabels_strings")?.strings() ?? [];
    const labelInts = a.get("classlabels_int64s")?.bigints() ?? new BigInt64Array(0);
    labels = strings.length > 0 ? { strings } : { ints: labelInts };
    nTargets = strings.length > 0 ? strings.length : labelInts.length;
  } else {
    nTargets = a.get("n_targets")?.int ?? 0;
  }
  if (nTargets < (classifier ? 2 : 1)) {
    throw new Unsupported(
      classifier ? "the classifier has fewer than two class labels" : "n_targets is missing",
    );
  }

  // Trees: runs of equal tree ids (ONNX Runtime's roots are each run's first node).
  const runStart: number[] = [];
  for (let i = 0; i < n; i++) if (i === 0 || treeIds[i] !== treeIds[i - 1]) runStart.push(i);
  runStart.push(n);
  const nTrees = runStart.length - 1;
  const treeRun = new Map<number, number>();
  for (let t = 0; t < nTrees; t++) {
    const id = treeIds[runStart[t]!]!;
    if (treeRun.has(id)) throw new Unsupported(`the nodes of tree ${id} are not contiguous`);
    treeRun.set(id, t);
  }
  // A node's index by (run, node id): run t's ids index `lookup` from `lookupBase[t]`.
  const lookupBase = new Int32Array(nTrees + 1);
  for (let t = 0; t < nTrees; t++) {
    let max = -1;
    for (let i = runStart[t]!; i < runStart[t + 1]!; i++) {
      if (nodeIds[i]! < 0) throw new Unsupported("a node id is negative");
      if (nodeIds[i]! > max) max = nodeIds[i]!;
    }
    if (max > 4 * (runStart[t + 1]! - runStart[t]!) + 1024) throw new Unsupported("node ids are too sparse");
    lookupBase[t + 1] = lookupBase[t]! + max + 1;
  }
  const lookup = new Int32Array(lookupBase[nTrees]!).fill(-1);
  for (let t = 0; t < nTrees; t++) {
    for (let i = runStart[t]!; i < runStart[t + 1]!; i++) {
      const at = lookupBase[t]! + nodeIds[i]!;
      if (lookup[at] !== -1)
        throw new Unsupported(`node ${nodeIds[i]} of tree ${treeIds[i]} is defined twice`);
      lookup[at] = i;
    }
  }
  const find = (t: number, id: number): number =>
    id >= 0 && id < lookupBase[t + 1]! - lookupBase[t]! ? lookup[lookupBase[t]! + id]! : -1;

  // Leaf weights by node, in the attributes' order (ONNX Runtime sorts them by tree and node id; within
  // a leaf, the order only changes the rounding of two weights of one target, which no exporter writes).
  const wTree = ints(`${prefix}_treeids`);
  const wNode = ints(`${prefix}_nodeids`);
  const wId = ints(`${prefix}_ids`);
  const wValue = floats(`${prefix}_weights`);
  if (wNode.length !== wTree.length || wId.length !== wTree.length || wValue.length !== wTree.length) {
    throw new Unsupported(`the ${prefix}_* attributes have different lengths`);
  }
  const weightNode = new Int32Array(wTree.length);
  const weightStart = new Int32Array(n + 1);
  for (let k = 0; k < wTree.length; k++) {
    const t = treeRun.get(wTree[k]!);
    const i = t === undefined ? -1 : find(t, wNode[k]!);
    if (i < 0)
      throw new Unsupported(`a weight names node ${wNode[k]} of tree ${wTree[k]}, which does not exist`);
    weightNode[k] = modes[i] === LEAF ? i : -1;
    if (modes[i] !== LEAF) continue;
    if (wId[k]! < 0 || wId[k]! >= nTargets) throw new Unsupported(`a weight targets ${wId[k]}, out of range`);
    weightStart[i + 1]!++;
  }
  for (let i = 0; i < n; i++) weightStart[i + 1] = weightStart[i + 1]! + weightStart[i]!;
  const weightTargets = new Int32Array(weightStart[n]!);
  const weightValues = new Float32Array(weightStart[n]!);
  const fill = weightStart.slice(0, n);
  for (let k = 0; k < wTree.length; k++) {
    const i = weightNode[k]!;
    if (i < 0) continue;
    weightTargets[fill[i]!] = wId[k]!;
    weightValues[fill[i]!++] = wValue[k]!;
  }
  // ONNX Runtime reads these from every class weight, leaf or not.
  let allPositive = true;
  const weightClasses = new Set<number>();
  for (let k = 0; k < wId.length; k++) {
    weightClasses.add(wId[k]!);
    if (wValue[k]! < 0) allPositive = false;
  }
  const base = floats("base_values");
  // ONNX Runtime takes 0 or one per target, or one for a two-class classifier.
  const twoClasses = classifier && nTargets === 2;
  if (base.length !== 0 && base.length !== nTargets && !(twoClasses && base.length === 1)) {
    throw new Unsupported(`base_values has ${base.length} values for ${nTargets} targets`);
  }
  const binaryCase = classifier && nTargets === 2 && weightClasses.size === 1;
  if (twoClasses && post === 4) {
    throw new Unsupported("a two-class classifier with post_transform PROBIT writes one score per row");
  }
  if (twoClasses && base.length === 1 && !binaryCase) {
    throw new Unsupported(
      "a two-class classifier with one base value and weights for both classes leaves a score unset",
    );
  }

  // Children by index.
  // Children by index, in place of the ids (the attributes' arrays are this function's own copies).
  const trueChild = trueIds;
  const falseChild = falseIds;
  for (let t = 0; t < nTrees; t++) {
    for (let i = runStart[t]!; i < runStart[t + 1]!; i++) {
      trueChild[i] = modes[i] === LEAF ? -1 : find(t, trueIds[i]!);
      falseChild[i] = modes[i] === LEAF ? -1 : find(t, falseIds[i]!);
    }
  }
  return {
    classifier,
    nTargets,
    aggregate,
    post,
    base,
    labels,
    binaryCase,
    allPositive,
    n,
    modes,
    features: featureIds,
    thresholds,
    // ONNX Runtime reads the flags that exist, however many there are.
    missing: Int32Array.from({ length: n }, (_, i) => (i < missing.length ? missing[i]! : 0)),
    trueChild,
    falseChild,
    roots: Int32Array.from(runStart.slice(0, nTrees)),
    weightStart,
    weightTargets,
    weightValues,
    memberStart: new Int32Array(0),
    memberEnd: new Int32Array(0),
    members: new Float32Array(0),
    name: (i) => `node ${nodeIds[i]} of tree ${treeIds[i]}`,
  };
}

/** Reads an opset-5 `TreeEnsemble`: interior nodes and leaves are separate lists, referenced by index. */
function decodeV5(node: OnnxNode): Decoded {
  const a = node.attributes;
  const ints = (name: string): Int32Array => {
    try {
      return a.get(name)?.int32s() ?? new Int32Array(0);
    } catch {
      throw new Unsupported(`${name} has a value beyond 32 bits`);
    }
  };
  const tensor = (name: string, types: readonly number[], what: string) => {
    const t = a.get(name)?.tensor();
    if (t === undefined) return undefined;
    if (!types.includes(t.dataType)) throw new Unsupported(`${name} is not ${what}`);
    return t.values;
  };
  const roots = ints("tree_roots");
  const features = ints("nodes_featureids");
  const trueIds = ints("nodes_truenodeids");
  const falseIds = ints("nodes_falsenodeids");
  const trueLeafs = ints("nodes_trueleafs");
  const falseLeafs = ints("nodes_falseleafs");
  const tracks = ints("nodes_missing_value_tracks_true");
  const targets = ints("leaf_targetids");
  const splits = tensor("nodes_splits", [1], "float32 (double and float16 trees are left to ONNX Runtime)");
  const modes5 = tensor("nodes_modes", [2, 6], "uint8");
  const weights = tensor("leaf_weights", [1], "float32");
  const memberValues = tensor("membership_values", [1], "float32") ?? new Float32Array(0);
  const nI = features.length;
  const nL = targets.length;
  for (const [name, length] of [
    ["nodes_truenodeids", trueIds.length],
    ["nodes_falsenodeids", falseIds.length],
    ["nodes_trueleafs", trueLeafs.length],
    ["nodes_falseleafs", falseLeafs.length],
    ["nodes_splits", splits?.length ?? -1],
    ["nodes_modes", modes5?.length ?? -1],
  ] as const) {
    if (length !== nI) throw new Unsupported(`${name} has ${length} values for ${nI} nodes`);
  }
  if (weights?.length !== nL)
    throw new Unsupported(`leaf_weights has ${weights?.length ?? 0} values for ${nL} leaves`);
  if (nI === 0 || roots.length === 0) throw new Unsupported("the ensemble has no nodes");
  const nTargets = a.get("n_targets")?.int ?? 0;
  if (nTargets < 1) throw new Unsupported("n_targets is missing");
  // Opset 5 numbers aggregates AVERAGE 0, SUM 1, MIN 2, MAX 3 (default SUM); post-transforms as here.
  const aggregate = [1, 0, 2, 3][a.get("aggregate_function")?.int ?? 1];
  const post = a.get("post_transform")?.int ?? 0;
  if (aggregate === undefined) throw new Unsupported("aggregate_function is unknown");
  if (post < 0 || post > 4) throw new Unsupported("post_transform is unknown");

  const n = nI + nL;
  const modes = new Int8Array(n).fill(LEAF);
  const thresholds = new Float32Array(n);
  const missing = new Int32Array(n);
  const trueChild = new Int32Array(n).fill(-1);
  const falseChild = new Int32Array(n).fill(-1);
  const child = (id: number, leaf: number) =>
    leaf === 1 ? (id >= 0 && id < nL ? nI + id : -1) : id >= 0 && id < nI ? id : -1;
  const memberStart = new Int32Array(n);
  const memberEnd = new Int32Array(n);
  // Sets follow each other in membership_values, each ended by a NaN, in the order of their nodes.
  let memberAt = 0;
  for (let i = 0; i < nI; i++) {
    const mode = modes5![i]!;
    if (mode < 0 || mode > 6) throw new Unsupported(`node ${i} has mode ${mode}, not one of opset 5's`);
    modes[i] = mode === 6 ? MEMBER : mode;
    thresholds[i] = splits![i]!;
    missing[i] = tracks[i] ?? 0;
    trueChild[i] = child(trueIds[i]!, trueLeafs[i]!);
    falseChild[i] = child(falseIds[i]!, falseLeafs[i]!);
    if (mode === 6) {
      memberStart[i] = memberAt;
      while (memberAt < memberValues.length && !Number.isNaN(memberValues[memberAt]!)) memberAt++;
      if (memberAt >= memberValues.length)
        throw new Unsupported(`node ${i}'s set is missing from membership_values`);
      for (let k = memberStart[i]!; k < memberAt; k++) {
        // ONNX Runtime implements sets of integers only (and refuses the model otherwise).
        if (memberValues[k] !== (memberValues[k]! | 0))
          throw new Unsupported("a membership value is not an integer");
      }
      memberEnd[i] = memberAt++;
    }
  }
  const weightStart = new Int32Array(n + 1);
  for (let j = 0; j < nL; j++) {
    if (targets[j]! < 0 || targets[j]! >= nTargets)
      throw new Unsupported(`leaf ${j} targets ${targets[j]}, out of range`);
    weightStart[nI + j + 1] = 1;
  }
  for (let i = 0; i < n; i++) weightStart[i + 1] = weightStart[i + 1]! + weightStart[i]!;
  for (const root of roots)
    if (root < 0 || root >= nI) throw new Unsupported(`tree root ${root} is not a node`);
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
    modes,
    features: Int32Array.from({ length: n }, (_, i) => (i < nI ? features[i]! : 0)),
    thresholds,
    missing,
    trueChild,
    falseChild,
    roots,
    weightStart,
    weightTargets: targets,
    weightValues: weights as Float32Array,
    memberStart,
    memberEnd,
    members: memberValues as Float32Array,
    name: (i) => (i < nI ? `node ${i}` : `leaf ${i - nI}`),
  };
}

/** Lays a decoded ensemble out for the kernel, in a new shared memory. */
function layOut(d: Decoded): Forest {
  const { classifier, nTargets, aggregate, post, base, labels, binaryCase, allPositive, n, modes } = d;
  const { features: featureIds, thresholds, missing, trueChild, falseChild, weightStart } = d;
  const nTrees = d.roots.length;
  const single = !classifier && nTargets === 1;
  const weightCount = (i: number) => weightStart[i + 1]! - weightStart[i]!;
  // Lay the reachable nodes out breadth-first, tree by tree, the two children of a node side by side:
  // first the one `x <= t'` leads to.
  const newIndex = new Int32Array(n).fill(-1);
  const laid = new Int32Array(n); // laid[j]: the attribute index of the j-th laid node (the BFS queue)
  const levels = new Int32Array(n); // the depth of the j-th laid node
  const rootList = new Int32Array(nTrees);
  const depthList = new Int32Array(nTrees);
  let count = 0;
  let maxFeature = 0;
  let leaves = 0;
  let weightsTotal = 0;
  let memberCount = 0;
  for (let t = 0; t < nTrees; t++) {
    const root = d.roots[t]!;
    const first = count;
    if (newIndex[root] !== -1) throw new Unsupported(`tree ${t} starts at a node of another tree`);
    newIndex[root] = count;
    laid[count++] = root;
    let depth = 0;
    for (let q = first; q < count; q++) {
      const i = laid[q]!;
      const mode = modes[i]!;
      if (mode === LEAF) {
        const w = weightCount(i);
        if (w === 0) throw new Unsupported(`${d.name(i)} is a leaf without weight`);
        if (single && w > 1) throw new Unsupported("a leaf of a single-target ensemble has several weights");
        leaves++;
        weightsTotal += w;
        continue;
      }
      if (featureIds[i]! < 0) throw new Unsupported("a feature id is negative");
      if (mode === MEMBER) memberCount += d.memberEnd[i]! - d.memberStart[i]!;
      if (featureIds[i]! > maxFeature) maxFeature = featureIds[i]!;
      const level = levels[q]! + 1;
      if (level > depth) depth = level;
      const swap = swapped(mode, thresholds[i]!);
      const a = swap ? falseChild[i]! : trueChild[i]!;
      const b = swap ? trueChild[i]! : falseChild[i]!;
      if (a < 0 || b < 0) throw new Unsupported(`a child of ${d.name(i)} does not exist`);
      if (newIndex[a] !== -1 || newIndex[b] !== -1 || a === b) {
        throw new Unsupported(`a child of ${d.name(i)} has two parents`);
      }
      newIndex[a] = count;
      levels[count] = level;
      laid[count++] = a;
      newIndex[b] = count;
      levels[count] = level;
      laid[count++] = b;
    }
    rootList[t] = first;
    depthList[t] = depth;
  }

  // The arrays go straight into the engine's shared memory (no copy of the nodes at any time).
  const weightsLaid = single ? 0 : weightsTotal;
  const leafSlots = single ? 1 : leaves + 1;
  const sizes = [
    16 * count,
    count,
    4 * nTrees,
    4 * nTrees,
    4 * leafSlots,
    4 * weightsLaid,
    4 * weightsLaid,
    4 * memberCount,
  ];
  const { memory, offsets, end } = allocate(sizes);
  const buffer = memory.buffer;
  const nodes = new Int32Array(buffer, offsets[0]!, 4 * count);
  const values = new Float32Array(buffer, offsets[0]!, 4 * count);
  const flags = new Uint8Array(buffer, offsets[1]!, count);
  const roots = new Int32Array(buffer, offsets[2]!, nTrees);
  const depths = new Int32Array(buffer, offsets[3]!, nTrees);
  const leafStart = new Int32Array(buffer, offsets[4]!, leafSlots);
  const leafTargets = new Int32Array(buffer, offsets[5]!, weightsLaid);
  const leafWeights = new Float32Array(buffer, offsets[6]!, weightsLaid);
  const members = new Float32Array(buffer, offsets[7]!, memberCount);
  roots.set(rootList);
  depths.set(depthList);
  let canonical = true;
  let leaf = 0;
  let written = 0;
  let membersWritten = 0;
  for (let j = 0; j < count; j++) {
    const i = laid[j]!;
    const p = j * 4;
    const mode = modes[i]!;
    if (mode === LEAF) {
      nodes[p] = 0;
      nodes[p + 1] = j;
      values[p + 2] = Number.POSITIVE_INFINITY;
      if (single) values[p + 3] = d.weightValues[weightStart[i]!]!;
      else {
        nodes[p + 3] = leaf;
        leafStart[leaf++] = written;
        for (let w = weightStart[i]!; w < weightStart[i + 1]!; w++) {
          leafTargets[written] = d.weightTargets[w]!;
          leafWeights[written++] = d.weightValues[w]!;
        }
      }
      continue;
    }
    const t = thresholds[i]!;
    const tracks = (missing[i] ?? 0) === 1;
    const swap = swapped(mode, t);
    const firstChild = newIndex[swap ? falseChild[i]! : trueChild[i]!]!;
    nodes[p] = featureIds[i]!;
    nodes[p + 1] = firstChild;
    let flag = 0;
    if (canonicalForm(mode, t)) values[p + 2] = mode === LT || mode === GTE ? below(t) : t;
    else if (mode === MEMBER) {
      // The set's values, copied after the others; the node holds where they are.
      const set = d.members.subarray(d.memberStart[i]!, d.memberEnd[i]!);
      // ONNX Runtime tests small sets (integers within [0, 30]) exactly, others on the truncated value.
      const exact = set.every((v) => v >= 0 && v <= 30);
      nodes[p + 2] = exact ? ~membersWritten : membersWritten;
      members.set(set, membersWritten);
      membersWritten += d.memberEnd[i]! - d.memberStart[i]!;
      nodes[p + 3] = membersWritten;
      flag = RAW[mode]!;
      canonical = false;
    } else {
      // EQ, NEQ, and comparisons with a NaN (or LT/GTE with a -Infinity) threshold, as ONNX states them.
      values[p + 2] = t;
      flag = RAW[mode]!;
      canonical = false;
    }
    // Where a NaN goes: the true branch when tracked (or for NEQ, as NaN != t), else the false one.
    const nanTrue = tracks || mode === NEQ;
    flags[j] = flag | ((swap ? nanTrue : !nanTrue) ? 8 : 0);
  }
  leafStart[leaf] = written;

  const kernel: KernelForest = {
    layout: single ? 0 : 1,
    aggregate,
    canonical,
    nTargets,
    nTrees,
    nodes,
    values,
    flags,
    roots,
    depths,
    leafStart,
    leafTargets,
    leafWeights,
    members,
  };
  const finish: KernelFinish = {
    kind: classifier ? 1 : 0,
    post,
    aggregate,
    nTargets,
    nTrees,
    base,
    binaryCase,
    weightsAllPositive: allPositive,
  };
  const placed: Placed = {
    layout: kernel.layout,
    aggregate,
    canonical,
    nTargets,
    nTrees,
    nodeCount: count,
    leafCount: leafSlots - 1,
    weightCount: weightsLaid,
    nodes: offsets[0]!,
    flags: offsets[1]!,
    roots: offsets[2]!,
    depths: offsets[3]!,
    leafStart: offsets[4]!,
    leafTargets: offsets[5]!,
    leafWeights: offsets[6]!,
    members: offsets[7]!,
    memberCount,
    end,
  };
  const bytes = sizes.reduce((sum, size) => sum + size, 0);
  return { kernel, memory, placed, finish, nFeatures: maxFeature + 1, labels, nodeCount: count, bytes };
}

/** Whether a node compares as `x > t'` (LEQ, LT, GTE, GT with a usable threshold). */
function canonicalForm(mode: number, t: number): boolean {
  if (Number.isNaN(t)) return false;
  if (mode === LEQ || mode === GT) return true;
  return (mode === LT || mode === GTE) && t !== Number.NEGATIVE_INFINITY;
}

/** Whether the node's true child goes second: `x >= t` and `x > t` are `x > t'` true. */
function swapped(mode: number, t: number): boolean {
  return (mode === GT || mode === GTE) && canonicalForm(mode, t);
}
