/**
 * Node modes in the decoded form: ONNX's `BRANCH_*` in the order of the `ai.onnx.ml` opset-3 strings
 * and opset 5's codes (0-5), `LEAF`, and opset 5's `BRANCH_MEMBER`.
 */
export const MODE = { LEQ: 0, LT: 1, GTE: 2, GT: 3, EQ: 4, NEQ: 5, LEAF: 6, MEMBER: 7 } as const;

/** The `nodes_modes` strings of opsets 1 to 3, in {@link MODE} order. */
export const MODE_NAMES = [
  "BRANCH_LEQ",
  "BRANCH_LT",
  "BRANCH_GTE",
  "BRANCH_GT",
  "BRANCH_EQ",
  "BRANCH_NEQ",
  "LEAF",
] as const;

/** `aggregate_function` codes, in the order of the opset-3 strings. */
export const AGGREGATES = ["SUM", "AVERAGE", "MIN", "MAX"] as const;
/** `post_transform` codes, in the order of the opset-3 strings (opset 5 numbers them so). */
export const POSTS = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"] as const;

/** Classifier labels: int64 or strings; undefined for regressors. */
export type ForestLabels =
  | { readonly ints: BigInt64Array }
  | { readonly strings: readonly string[] }
  | undefined;

/** A tree ensemble read from either operator: nodes and leaves by index, children by index. */
export interface Decoded {
  readonly classifier: boolean;
  readonly nTargets: number;
  /** An {@link AGGREGATES} index. */
  readonly aggregate: number;
  /** A {@link POSTS} index. */
  readonly post: number;
  readonly base: Float32Array;
  readonly labels: ForestLabels;
  readonly binaryCase: boolean;
  readonly allPositive: boolean;
  /** Nodes, leaves included. */
  readonly n: number;
  /** {@link MODE} codes. */
  readonly modes: Int8Array;
  readonly features: Int32Array;
  readonly thresholds: Float32Array;
  /** 1: a NaN takes the true branch. */
  readonly missing: Uint8Array;
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
