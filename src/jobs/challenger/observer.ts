import type { Batch } from "../../data/batch.js";
import type { Comparison } from "./comparison.js";
import type { Distributions } from "./distributions.js";

/**
 * What sees each batch of predictions, when asked (else none): a gate that may stop the run (its `check`
 * throws), then the comparison and the distributions.
 */
export function observer(
  comparison: Comparison | undefined,
  distributions: Distributions | undefined,
  gate?: { check(): void } | undefined,
): ((predictions: Batch) => void) | undefined {
  if (comparison === undefined && distributions === undefined && gate === undefined) return undefined;
  return (predictions) => {
    gate?.check();
    comparison?.add(predictions);
    distributions?.add(predictions);
  };
}
