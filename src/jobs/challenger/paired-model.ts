/** Champion and Challenger as one model: both predict every batch, the Challenger's outputs renamed. */
import type { Batch } from "../../data/batch.js";
import { MlbatchError } from "../../errors.js";
import type { FeatureSpec, Model, OutputSpec } from "../../models/model.js";

/** The prefix of the Challenger's output columns: `challenger_prediction`. */
export const CHALLENGER_PREFIX = "challenger_";

/**
 * A model that feeds each batch to the Champion and the Challenger at once (each its own columns, in its
 * own threads) and returns the Champion's outputs, then the Challenger's as `challenger_<column>`. It
 * reads the union of their inputs.
 *
 * @example
 * ```ts
 * const paired = PairedModel.create(champion, challenger);
 * paired.outputs.map((o) => o.name); // ["prediction", "challenger_prediction"]
 * ```
 */
export class PairedModel implements Model {
  readonly uri: string;
  readonly engine: string;
  readonly outputs: readonly OutputSpec[];

  private constructor(
    readonly champion: Model,
    readonly challenger: Model,
    readonly inputs: readonly FeatureSpec[],
  ) {
    this.uri = champion.uri;
    this.engine = `${champion.engine}; challenger ${challenger.uri}: ${challenger.engine}`;
    this.outputs = [
      ...champion.outputs,
      ...challenger.outputs.map((o) => ({ name: `${CHALLENGER_PREFIX}${o.name}`, type: o.type })),
    ];
  }

  /**
   * Pairs two loaded models.
   *
   * @throws MlbatchError `E_SCHEMA` when they are fed one column as two types, or the Challenger lacks
   * one of the Champion's outputs
   */
  static create(champion: Model, challenger: Model): PairedModel {
    const inputs = [...champion.inputs];
    for (const feature of challenger.inputs) {
      const same = inputs.find((f) => f.name === feature.name);
      if (same === undefined) inputs.push(feature);
      else if (same.type !== feature.type) {
        throw new MlbatchError(
          "E_SCHEMA",
          `the challenger ${challenger.uri} is fed column "${feature.name}" as ${feature.type}, the champion ` +
            `${champion.uri} as ${same.type}: both must read it alike to predict from one read. ` +
            "Pick a challenger with the champion's signature.",
        );
      }
    }
    const missing = champion.outputs.filter((o) => !challenger.outputs.some((c) => c.name === o.name));
    if (missing.length > 0) {
      throw new MlbatchError(
        "E_SCHEMA",
        `the challenger ${challenger.uri} has no output ${missing.map((o) => `"${o.name}"`).join(", ")} ` +
          `of the champion ${champion.uri} (its outputs: ${challenger.outputs.map((o) => o.name).join(", ")}): ` +
          "they cannot be compared. Pick a challenger of the same task, or name the outputs alike (loader).",
      );
    }
    return new PairedModel(champion, challenger, inputs);
  }

  /** @inheritdoc */
  async predict(batch: Batch): Promise<Batch> {
    // Both calls copy what they read before they return, as predictAll expects of a model.
    const a = this.champion.predict(columnsOf(batch, this.champion.inputs));
    const b = this.challenger.predict(columnsOf(batch, this.challenger.inputs));
    a.catch(() => undefined);
    b.catch(() => undefined);
    const [first, second] = [await a, await b];
    return {
      length: batch.length,
      columns: [
        ...first.columns,
        ...second.columns.map((c) => ({ ...c, name: `${CHALLENGER_PREFIX}${c.name}` })),
      ],
    };
  }

  /** @inheritdoc */
  async close(): Promise<void> {
    await Promise.allSettled([this.champion.close(), this.challenger.close()]);
  }
}

function columnsOf(batch: Batch, inputs: readonly FeatureSpec[]): Batch {
  return {
    length: batch.length,
    columns: inputs.map((f) => batch.columns.find((c) => c.name === f.name)!),
  };
}
