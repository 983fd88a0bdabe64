/** Why an ensemble (or the graph around it) is left to ONNX Runtime: the message says what the engine lacks. */
export class Unsupported extends Error {}
