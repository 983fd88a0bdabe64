/**
 * The decoder of `ai.onnx.ml` opsets 1 to 3: `TreeEnsembleRegressor` and `TreeEnsembleClassifier`, whose
 * nodes are parallel `nodes_*` lists (tree id, node id, mode string, ...) and whose leaf weights are
 * `target_*` or `class_*` lists naming a node by tree and node id.
 */
import type { Attribute } from "../../onnx/attribute.js";
import type { OnnxNode } from "../../onnx/graph.js";
import { Unsupported } from "../unsupported.js";
import { AGGREGATES, type Decoded, MODE, MODE_NAMES, POSTS } from "./decoded.js";

type Attributes = ReadonlyMap<string, Attribute>;

/** The `nodes_*` lists, checked for length. */
interface Nodes {
  readonly n: number;
  readonly nodeIds: Int32Array;
  readonly featureIds: Int32Array;
  readonly trueIds: Int32Array;
  readonly falseIds: Int32Array;
  readonly thresholds: Float32Array;
  /** 1: a NaN takes the true branch (one byte per node). */
  readonly missing: Uint8Array;
  readonly modes: Int8Array;
}

/** How the ensemble's scores are combined and labelled. */
interface Scoring {
  readonly classifier: boolean;
  readonly aggregate: number;
  readonly post: number;
  readonly nTargets: number;
  readonly labels: Decoded["labels"];
}

/**
 * Reads a `TreeEnsembleRegressor` or `TreeEnsembleClassifier` as ONNX Runtime does: roots are the first
 * node of each run of tree ids; weights on internal nodes are ignored.
 *
 * @throws Unsupported when the node uses something the engine does not reproduce exactly
 */
export function decodeV3(node: OnnxNode): Decoded {
  const a = node.attributes;
  for (const name of a.keys()) {
    if (name.endsWith("_as_tensor"))
      throw new Unsupported(`attribute ${name} (double precision) is not supported`);
  }
  const { nodes, scoring, trees } = structure(a, node.opType === "TreeEnsembleClassifier");
  const weights = readWeights(a, scoring, nodes, trees);
  const { base, binaryCase } = readBase(a, scoring, weights.classes);
  // Children by index, in place of the ids (the attributes' arrays are this function's own copies).
  const { n, modes, trueIds: trueChild, falseIds: falseChild } = nodes;
  for (let t = 0; t < trees.count; t++) {
    for (let i = trees.start[t]!; i < trees.start[t + 1]!; i++) {
      trueChild[i] = modes[i] === MODE.LEAF ? -1 : trees.find(t, trueChild[i]!);
      falseChild[i] = modes[i] === MODE.LEAF ? -1 : trees.find(t, falseChild[i]!);
    }
  }
  return {
    ...scoring,
    base,
    binaryCase,
    allPositive: weights.allPositive,
    n,
    modes,
    features: nodes.featureIds,
    thresholds: nodes.thresholds,
    missing: nodes.missing,
    trueChild,
    falseChild,
    roots: trees.start.slice(0, trees.count),
    weightStart: weights.start,
    weightTargets: weights.targets,
    weightValues: weights.values,
    memberStart: new Int32Array(0),
    memberEnd: new Int32Array(0),
    members: new Float32Array(0),
    name: trees.namer(),
  };
}

/** An `ints` attribute as int32 (none: empty); `expected`: its count when known. */
export function int32s(a: Attributes, name: string, expected?: number): Int32Array {
  try {
    return a.get(name)?.int32s(expected) ?? new Int32Array(0);
  } catch {
    throw new Unsupported(`${name} has a value beyond 32 bits`);
  }
}

function floats(a: Attributes, name: string, expected?: number): Float32Array {
  return a.get(name)?.floats(expected) ?? new Float32Array(0);
}

/**
 * The node lists, how scores combine, and the trees; the tree ids are dropped once the runs are known
 * (a forest's lists are tens of MB: each goes as soon as it is not needed).
 */
function structure(a: Attributes, classifier: boolean): { nodes: Nodes; scoring: Scoring; trees: Trees } {
  const { treeIds, ...nodes } = readNodes(a);
  const scoring = readScoring(a, classifier);
  return { nodes, scoring, trees: new Trees(treeIds, nodes.nodeIds) };
}

function readNodes(a: Attributes): Nodes & { readonly treeIds: Int32Array } {
  const treeIds = int32s(a, "nodes_treeids");
  // Every list has as many values as the tree ids (checked below): no counting pass for the others.
  const n = treeIds.length;
  const nodes: Nodes = {
    nodeIds: int32s(a, "nodes_nodeids", n),
    featureIds: int32s(a, "nodes_featureids", n),
    trueIds: int32s(a, "nodes_truenodeids", n),
    falseIds: int32s(a, "nodes_falsenodeids", n),
    thresholds: floats(a, "nodes_values", n),
    missing: flags(int32s(a, "nodes_missing_value_tracks_true", n), n),
    modes: a.get("nodes_modes")?.codes(MODE_NAMES, n) ?? new Int8Array(0),
    n: 0,
  };
  for (const [name, length] of [
    ["nodes_nodeids", nodes.nodeIds.length],
    ["nodes_featureids", nodes.featureIds.length],
    ["nodes_truenodeids", nodes.trueIds.length],
    ["nodes_falsenodeids", nodes.falseIds.length],
    ["nodes_values", nodes.thresholds.length],
    ["nodes_modes", nodes.modes.length],
  ] as const) {
    if (length !== n) throw new Unsupported(`${name} has ${length} values for ${n} nodes`);
  }
  if (n === 0) throw new Unsupported("the ensemble has no nodes");
  if (nodes.modes.includes(-1)) throw new Unsupported("a node mode is not one of ONNX's BRANCH_* or LEAF");
  return { ...nodes, treeIds, n };
}

/** `nodes_missing_value_tracks_true` as bytes: 1 where it is 1 (ONNX Runtime reads the flags that exist). */
function flags(values: Int32Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n && i < values.length; i++) out[i] = values[i] === 1 ? 1 : 0;
  return out;
}

function readScoring(a: Attributes, classifier: boolean): Scoring {
  const str = (name: string, fallback: string): string => a.get(name)?.string ?? fallback;
  const aggregateName = classifier ? "SUM" : str("aggregate_function", "SUM");
  const aggregate = (AGGREGATES as readonly string[]).indexOf(aggregateName);
  const post = (POSTS as readonly string[]).indexOf(str("post_transform", "NONE"));
  if (aggregate < 0) throw new Unsupported(`aggregate_function ${aggregateName} is unknown`);
  if (post < 0) throw new Unsupported(`post_transform ${str("post_transform", "")} is unknown`);
  let labels: Decoded["labels"];
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
  return { classifier, aggregate, post, nTargets, labels };
}

/** The trees: runs of equal tree ids (ONNX Runtime's roots are each run's first node), and node lookup. */
class Trees {
  readonly count: number;
  /** Run t is nodes [start[t], start[t + 1]). */
  readonly start: Int32Array;
  /** Run t's tree id. */
  private readonly ids: Int32Array;
  /** Tree id -> run. */
  readonly runOf = new Map<number, number>();
  /** A node's index by (run, node id): run t's ids index `lookup` from `lookupBase[t]`. */
  private readonly lookupBase: Int32Array;
  private readonly lookup: Int32Array;

  constructor(
    treeIds: Int32Array,
    private readonly nodeIds: Int32Array,
  ) {
    const n = treeIds.length;
    const starts: number[] = [];
    for (let i = 0; i < n; i++) if (i === 0 || treeIds[i] !== treeIds[i - 1]) starts.push(i);
    starts.push(n);
    this.count = starts.length - 1;
    this.start = Int32Array.from(starts);
    this.ids = new Int32Array(this.count);
    for (let t = 0; t < this.count; t++) {
      const id = treeIds[starts[t]!]!;
      if (this.runOf.has(id)) throw new Unsupported(`the nodes of tree ${id} are not contiguous`);
      this.runOf.set(id, t);
      this.ids[t] = id;
    }
    this.lookupBase = this.bases();
    this.lookup = this.table();
  }

  /** The index of node `id` of run `t`, or -1. */
  find(t: number, id: number): number {
    const base = this.lookupBase[t]!;
    return id >= 0 && id < this.lookupBase[t + 1]! - base ? this.lookup[base + id]! : -1;
  }

  /** Names nodes for messages (`node 3 of tree 5`), keeping only the node ids and the runs. */
  namer(): (i: number) => string {
    return nodeNamer(this.nodeIds, this.start, this.ids);
  }

  private bases(): Int32Array {
    const base = new Int32Array(this.count + 1);
    for (let t = 0; t < this.count; t++) {
      let max = -1;
      for (let i = this.start[t]!; i < this.start[t + 1]!; i++) {
        if (this.nodeIds[i]! < 0) throw new Unsupported("a node id is negative");
        if (this.nodeIds[i]! > max) max = this.nodeIds[i]!;
      }
      if (max > 4 * (this.start[t + 1]! - this.start[t]!) + 1024)
        throw new Unsupported("node ids are too sparse");
      base[t + 1] = base[t]! + max + 1;
    }
    return base;
  }

  private table(): Int32Array {
    const lookup = new Int32Array(this.lookupBase[this.count]!).fill(-1);
    for (let t = 0; t < this.count; t++) {
      for (let i = this.start[t]!; i < this.start[t + 1]!; i++) {
        const at = this.lookupBase[t]! + this.nodeIds[i]!;
        if (lookup[at] !== -1)
          throw new Unsupported(`node ${this.nodeIds[i]} of tree ${this.ids[t]} is defined twice`);
        lookup[at] = i;
      }
    }
    return lookup;
  }
}

/** Names node i as `node <id> of tree <id>` (a closure over these arrays only). */
function nodeNamer(nodeIds: Int32Array, start: Int32Array, ids: Int32Array): (i: number) => string {
  return (i) => {
    let t = 0;
    while (start[t + 1]! <= i) t++;
    return `node ${nodeIds[i]} of tree ${ids[t]}`;
  };
}

/** Leaf weights by node, and what ONNX Runtime reads from all of them. */
interface Weights {
  readonly start: Int32Array;
  readonly targets: Int32Array;
  readonly values: Float32Array;
  readonly allPositive: boolean;
  /** The class ids that have a weight (leaf or not). */
  readonly classes: ReadonlySet<number>;
}

/**
 * Leaf weights by node, in the attributes' order (ONNX Runtime sorts them by tree and node id; within a
 * leaf, the order only changes the rounding of two weights of one target, which no exporter writes).
 */
function readWeights(a: Attributes, scoring: Scoring, nodes: Nodes, trees: Trees): Weights {
  const prefix = scoring.classifier ? "class" : "target";
  const wTree = int32s(a, `${prefix}_treeids`);
  const k = wTree.length;
  const wNode = int32s(a, `${prefix}_nodeids`, k);
  const wId = int32s(a, `${prefix}_ids`, k);
  const wValue = floats(a, `${prefix}_weights`, k);
  if (wNode.length !== k || wId.length !== k || wValue.length !== k) {
    throw new Unsupported(`the ${prefix}_* attributes have different lengths`);
  }
  const { n, modes } = nodes;
  const weightNode = new Int32Array(k);
  const start = new Int32Array(n + 1);
  for (let w = 0; w < k; w++) {
    const t = trees.runOf.get(wTree[w]!);
    const i = t === undefined ? -1 : trees.find(t, wNode[w]!);
    if (i < 0)
      throw new Unsupported(`a weight names node ${wNode[w]} of tree ${wTree[w]}, which does not exist`);
    weightNode[w] = modes[i] === MODE.LEAF ? i : -1;
    if (modes[i] !== MODE.LEAF) continue;
    if (wId[w]! < 0 || wId[w]! >= scoring.nTargets)
      throw new Unsupported(`a weight targets ${wId[w]}, out of range`);
    start[i + 1]!++;
  }
  for (let i = 0; i < n; i++) start[i + 1] = start[i + 1]! + start[i]!;
  const total = start[n]!;
  const targets = new Int32Array(total);
  const values = new Float32Array(total);
  // Filled from the end, each node's range from its last slot down (so in the attributes' order, with no
  // copy of the starts): start[i + 1] ends as node i's first slot, and the starts are shifted back.
  for (let w = k - 1; w >= 0; w--) {
    const i = weightNode[w]!;
    if (i < 0) continue;
    const at = --start[i + 1]!;
    targets[at] = wId[w]!;
    values[at] = wValue[w]!;
  }
  start.copyWithin(0, 1);
  start[n] = total;
  // ONNX Runtime reads these from every class weight, leaf or not.
  let allPositive = true;
  const classes = new Set<number>();
  for (let w = 0; w < k; w++) {
    classes.add(wId[w]!);
    if (wValue[w]! < 0) allPositive = false;
  }
  return { start, targets, values, allPositive, classes };
}

/** `base_values`, checked as ONNX Runtime reads them, and whether a classifier is its binary case. */
function readBase(
  a: Attributes,
  scoring: Scoring,
  classes: ReadonlySet<number>,
): { base: Float32Array; binaryCase: boolean } {
  const { classifier, nTargets, post } = scoring;
  const base = floats(a, "base_values");
  // ONNX Runtime takes 0 or one per target, or one for a two-class classifier.
  const twoClasses = classifier && nTargets === 2;
  if (base.length !== 0 && base.length !== nTargets && !(twoClasses && base.length === 1)) {
    throw new Unsupported(`base_values has ${base.length} values for ${nTargets} targets`);
  }
  const binaryCase = twoClasses && classes.size === 1;
  if (twoClasses && post === POSTS.indexOf("PROBIT")) {
    throw new Unsupported("a two-class classifier with post_transform PROBIT writes one score per row");
  }
  if (twoClasses && base.length === 1 && !binaryCase) {
    throw new Unsupported(
      "a two-class classifier with one base value and weights for both classes leaves a score unset",
    );
  }
  return { base, binaryCase };
}
