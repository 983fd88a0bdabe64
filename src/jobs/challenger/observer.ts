import type { Batch } from "../../data/batch.js";
import type { Comparison } from "./comparison.js";
import type { Distributions } from "./distributions.js";

/** What sees each batch of predictions: the comparison and the distributions, when asked (else none). */
export function observer(
  comparison: Comparison | undefined,
  distributions: Distributions | undefined,
): ((predictions: Batch) => void) | undefined {
  if (comparison === undefined && distributions === undefined) return undefined;
  return (predictions) => {
    comparison?.add(predictions);
    distributions?.add(predictions);
  };
}
