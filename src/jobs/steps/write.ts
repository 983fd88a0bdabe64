/** The end of a run's write: the row counts reconciled, and its outputs committed together. */
import type { StagedOutput } from "../../data/writers/atomic.js";
import { MlbatchError } from "../../errors.js";

/**
 * Rows read = predicted + set aside, or it is a bug: checked before anything is committed.
 *
 * @param action - what happens to the rows set aside, for the text
 * @returns the counts as the write's log line shows them: `rows: 200 read = 189 predicted + 11 dropped`
 * @throws MlbatchError `E_INTERNAL` when the counts do not reconcile
 */
export function reconcile(
  read: number,
  predicted: number,
  rejected: number,
  action: "dropped" | "quarantined",
): string {
  if (read !== predicted + rejected) {
    throw new MlbatchError(
      "E_INTERNAL",
      `row counts do not reconcile: ${read} read, ${predicted} predicted, ${rejected} set aside`,
    );
  }
  return rejected === 0
    ? `rows: ${read} read = ${predicted} predicted`
    : `rows: ${read} read = ${predicted} predicted + ${rejected} ${action}`;
}

/**
 * Commits a staged output with the others a run makes (the quarantine), staged after it: all are staged
 * before any is committed, so a failure while staging or committing one leaves none of them new.
 *
 * @param later - stages the other outputs, in order
 * @throws the first failure, every staged output discarded
 */
export async function commitTogether(
  first: StagedOutput,
  later: readonly (() => Promise<StagedOutput>)[],
): Promise<void> {
  const staged = [first];
  try {
    for (const stage of later) staged.push(await stage());
    for (const output of staged) await output.commit();
  } catch (error) {
    for (const output of staged) await output.discard().catch(() => undefined);
    throw error;
  }
}
