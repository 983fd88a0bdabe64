import { type AttributeValue, encodeEnsemble } from "./onnx-builder.js";

const MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"];
const POSTS = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"];
const AGGREGATES = ["SUM", "AVERAGE", "MIN", "MAX"];
/** Values thresholds and inputs share, so that equality and boundaries are hit often. */
const GRID = [-2, -1, -0.5, 0, 0.25, 0.5, 1, 3];

/** A small deterministic generator (mulberry32). */
export function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(values: readonly T[]): T => values[int(values.length)]!;
  const value = (special: boolean): number => {
    const r = next();
    if (special && r < 0.05) return Number.NaN;
    if (special && r < 0.08) return pick([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    if (r < 0.7) return pick(GRID);
    return Math.fround((next() - 0.5) * 8);
  };
  return { next, int, pick, value };
}

export interface Options {
  readonly seed: number;
  readonly classifier: boolean;
  /** Only `x > t`-able modes and no NaN: the WebAssembly path. */
  readonly canonical: boolean;
}

/** A random ensemble model and inputs. */
export function ensemble({ seed, classifier, canonical }: Options) {
  const rnd = random(seed);
  const features = 1 + rnd.int(4);
  const nTrees = 1 + rnd.int(5);
  const targets = classifier ? 2 + rnd.int(3) : 1 + rnd.int(3);
  const nodes = {
    treeids: [] as number[],
    nodeids: [] as number[],
    featureids: [] as number[],
    modes: [] as string[],
    values: [] as number[],
    trueids: [] as number[],
    falseids: [] as number[],
    missing: [] as number[],
  };
  const weights = {
    treeids: [] as number[],
    nodeids: [] as number[],
    ids: [] as number[],
    values: [] as number[],
  };
  const treeIds = Array.from({ length: nTrees }, (_, i) => i * 3 + rnd.int(3));
  for (const tree of treeIds) {
    // Node ids are a shuffled range; the root is listed first, the others in random order.
    const listed: number[][] = [];
    let next = 0;
    const ids = Array.from({ length: 31 }, (_, i) => i).sort(() => rnd.next() - 0.5);
    const grow = (depth: number): number => {
      const id = ids[next++]!;
      if (depth >= 4 || rnd.next() < 0.3) {
        listed.push([id, -1, -1, -1]);
        const count = targets === 1 && !classifier ? 1 : 1 + rnd.int(targets);
        for (let k = 0; k < count; k++) {
          weights.treeids.push(tree);
          weights.nodeids.push(id);
          weights.ids.push(targets === 1 && !classifier ? 0 : rnd.int(targets));
          weights.values.push(
            Math.fround(classifier && rnd.next() < 0.7 ? rnd.next() : (rnd.next() - 0.4) * 4),
          );
        }
        return id;
      }
      const row = [id, 0, 0, 0];
      listed.push(row);
      row[2] = grow(depth + 1);
      row[3] = grow(depth + 1);
      row[1] = 1;
      return id;
    };
    grow(0);
    // ONNX Runtime wants node ids below the node count: renumber densely, in the shuffled order.
    const dense = new Map([...listed.map((row) => row[0]!)].sort((a, b) => a - b).map((id, i) => [id, i]));
    for (const row of listed) {
      row[0] = dense.get(row[0]!)!;
      if (row[1] !== -1) {
        row[2] = dense.get(row[2]!)!;
        row[3] = dense.get(row[3]!)!;
      }
    }
    for (let k = weights.nodeids.length - 1; k >= 0 && weights.treeids[k] === tree; k--) {
      weights.nodeids[k] = dense.get(weights.nodeids[k]!)!;
    }
    const [root, ...rest] = listed;
    rest.sort(() => rnd.next() - 0.5);
    for (const [id, internal, t, f] of [root!, ...rest]) {
      nodes.treeids.push(tree);
      nodes.nodeids.push(id!);
      if (internal === -1) {
        nodes.featureids.push(0);
        nodes.modes.push("LEAF");
        nodes.values.push(0);
        nodes.trueids.push(0);
        nodes.falseids.push(0);
        nodes.missing.push(0);
      } else {
        nodes.featureids.push(rnd.int(features));
        nodes.modes.push(canonical ? rnd.pick(MODES.slice(0, 4)) : rnd.pick(MODES));
        nodes.values.push(canonical ? rnd.pick(GRID) : rnd.value(true));
        nodes.trueids.push(t!);
        nodes.falseids.push(f!);
        nodes.missing.push(rnd.int(2));
      }
    }
  }
  const post = rnd.pick(POSTS);
  const attributes: Record<string, AttributeValue> = {
    nodes_treeids: { ints: nodes.treeids },
    nodes_nodeids: { ints: nodes.nodeids },
    nodes_featureids: { ints: nodes.featureids },
    nodes_modes: { strings: nodes.modes },
    nodes_values: { floats: nodes.values },
    nodes_truenodeids: { ints: nodes.trueids },
    nodes_falsenodeids: { ints: nodes.falseids },
    nodes_missing_value_tracks_true: { ints: nodes.missing },
    post_transform: { string: post },
  };
  const prefix = classifier ? "class" : "target";
  attributes[`${prefix}_treeids`] = { ints: weights.treeids };
  attributes[`${prefix}_nodeids`] = { ints: weights.nodeids };
  attributes[`${prefix}_ids`] = { ints: weights.ids };
  attributes[`${prefix}_weights`] = { floats: weights.values };
  const bases = rnd.pick([0, targets]);
  if (bases > 0)
    attributes.base_values = { floats: Array.from({ length: bases }, () => Math.fround(rnd.next() - 0.5)) };
  let outputs: { name: string; elemType: number }[];
  if (classifier) {
    const strings = rnd.next() < 0.3;
    if (strings)
      attributes.classlabels_strings = { strings: Array.from({ length: targets }, (_, i) => `c${i}`) };
    else attributes.classlabels_int64s = { ints: Array.from({ length: targets }, (_, i) => i * 5 - 3) };
    outputs = [
      { name: "label", elemType: strings ? 8 : 7 },
      { name: "probabilities", elemType: 1 },
    ];
  } else {
    attributes.n_targets = { int: targets };
    attributes.aggregate_function = { string: rnd.pick(AGGREGATES) };
    outputs = [{ name: "variable", elemType: 1 }];
  }
  const op = classifier ? ("TreeEnsembleClassifier" as const) : ("TreeEnsembleRegressor" as const);
  const bytes = encodeEnsemble({ op, features, attributes, outputs });
  const rows = 1 + rnd.int(300);
  const x = Float32Array.from({ length: rows * features }, () =>
    canonical ? rnd.value(false) : rnd.value(true),
  );
  return { bytes, x, rows, features, outputs: outputs.map((o) => o.name), threads: 1 + rnd.int(3), post };
}

/** A random opset-5 `TreeEnsemble` (every mode, set membership included) and inputs. */
export function ensembleV5({ seed, canonical }: { seed: number; canonical: boolean }) {
  const rnd = random(seed);
  const features = 1 + rnd.int(4);
  const nTrees = 1 + rnd.int(5);
  const targets = 1 + rnd.int(3);
  const nodes = {
    featureids: [] as number[],
    modes: [] as number[],
    splits: [] as number[],
    trueids: [] as number[],
    trueleafs: [] as number[],
    falseids: [] as number[],
    falseleafs: [] as number[],
    missing: [] as number[],
  };
  const leaves = { targetids: [] as number[], weights: [] as number[] };
  const members: number[] = [];
  const roots: number[] = [];
  /** Grows a subtree; returns [index, isLeaf]. Interior nodes get their index before their children. */
  const grow = (depth: number, root: boolean): [number, number] => {
    if (!root && (depth >= 4 || rnd.next() < 0.3)) {
      leaves.targetids.push(rnd.int(targets));
      leaves.weights.push(Math.fround((rnd.next() - 0.4) * 4));
      return [leaves.targetids.length - 1, 1];
    }
    const i = nodes.featureids.length;
    const mode = canonical ? rnd.int(4) : rnd.int(7);
    nodes.featureids.push(rnd.int(features));
    nodes.modes.push(mode);
    nodes.splits.push(canonical ? rnd.pick(GRID) : rnd.value(true));
    nodes.missing.push(rnd.int(2));
    if (mode === 6) {
      const size = 1 + rnd.int(3);
      // ONNX Runtime's sets hold integers; inputs from GRID test its truncation (0.25 is in {0}).
      for (let k = 0; k < size; k++) members.push(rnd.pick([-2, -1, 0, 1, 3, 30, 31]));
      members.push(Number.NaN);
    }
    nodes.trueids.push(0);
    nodes.trueleafs.push(0);
    nodes.falseids.push(0);
    nodes.falseleafs.push(0);
    const [t, tl] = grow(depth + 1, false);
    const [f, fl] = grow(depth + 1, false);
    nodes.trueids[i] = t;
    nodes.trueleafs[i] = tl;
    nodes.falseids[i] = f;
    nodes.falseleafs[i] = fl;
    return [i, 0];
  };
  for (let t = 0; t < nTrees; t++) roots.push(grow(0, true)[0]);
  const post = rnd.int(5);
  const attributes: Record<string, AttributeValue> = {
    n_targets: { int: targets },
    tree_roots: { ints: roots },
    nodes_featureids: { ints: nodes.featureids },
    nodes_modes: { tensor: nodes.modes, elemType: 2 },
    nodes_splits: { tensor: nodes.splits, elemType: 1 },
    nodes_truenodeids: { ints: nodes.trueids },
    nodes_trueleafs: { ints: nodes.trueleafs },
    nodes_falsenodeids: { ints: nodes.falseids },
    nodes_falseleafs: { ints: nodes.falseleafs },
    nodes_missing_value_tracks_true: { ints: nodes.missing },
    leaf_targetids: { ints: leaves.targetids },
    leaf_weights: { tensor: leaves.weights, elemType: 1 },
    aggregate_function: { int: rnd.int(4) },
    post_transform: { int: post },
  };
  if (members.length > 0) attributes.membership_values = { tensor: members, elemType: 1 };
  const bytes = encodeEnsemble({
    op: "TreeEnsemble",
    features,
    attributes,
    outputs: [{ name: "Y", elemType: 1 }],
  });
  const rows = 1 + rnd.int(300);
  const x = Float32Array.from({ length: rows * features }, () =>
    canonical ? rnd.value(false) : rnd.value(true),
  );
  return { bytes, x, rows, features, outputs: ["Y"], threads: 1 + rnd.int(3), post: POSTS[post]! };
}
