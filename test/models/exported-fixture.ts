/** The models of test/fixtures/exported (see its README), shared by the tests that use them. */
import { join } from "node:path";
import { ROOT } from "../helpers.js";

export const EXPORTED = join(ROOT, "test", "fixtures", "exported");
/** The first 300 rows of the bikes test inputs (pandas index `instant`). */
export const INPUTS = join(EXPORTED, "inputs.parquet");
/** The 12 columns the tensor models were trained on, in order. */
export const TENSOR_FEATURES = [
  "season",
  "yr",
  "mnth",
  "hr",
  "holiday",
  "weekday",
  "workingday",
  "weathersit",
  "temp",
  "atemp",
  "hum",
  "windspeed",
];
