/**
 * The frames between mlbatch and a pyfunc worker (python/mlbatch_pyfunc_worker.py): a little-endian uint32
 * length, then that many bytes, the first of them the frame's kind.
 */

/**
 * A frame's kind: `L` the model to load (to the zygote); `B` a batch (to a worker); `O` predictions, `E` the
 * model raised (from a worker); `R` ready, `F` no model, `X` a worker exited (from the zygote).
 */
export type FrameKind = "L" | "B" | "R" | "O" | "E" | "F" | "X";

/** A frame received: its kind and its payload. */
export interface Frame {
  readonly kind: FrameKind;
  readonly payload: Uint8Array;
}

/** The header of a frame of `payload` bytes of the given kind; the payload follows it on the pipe. */
export function frameHeader(kind: FrameKind, payload: number): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32LE(payload + 1, 0);
  header.write(kind, 4, "latin1");
  return header;
}

/** Cuts the bytes a worker writes into frames, whatever the pipe's chunks. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Takes a chunk of the pipe; gives the frames it completes (each payload copied, 8-byte aligned). */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) return frames;
      const head = this.peek(4);
      const length = head.readUInt32LE(0);
      if (this.buffered < 4 + length) return frames;
      const bytes = this.take(4 + length);
      const payload = new Uint8Array(length - 1);
      payload.set(bytes.subarray(5));
      frames.push({ kind: String.fromCharCode(bytes[4]!) as FrameKind, payload });
    }
  }

  private peek(n: number): Buffer {
    while (this.chunks[0]!.length < n) {
      this.chunks.splice(0, 2, Buffer.concat([this.chunks[0]!, this.chunks[1]!]));
    }
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered -= n;
    return all.subarray(0, n);
  }
}
