import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { Progress } from "../../src/jobs/progress.js";
import { LoggerService } from "../../src/services/logger.js";
import { Capture } from "../helpers.js";

async function logger() {
  const out = new Capture();
  const service = new LoggerService({ serialize: true }, out);
  await service.start();
  return { out, logger: service.logger };
}

describe("Progress", () => {
  it("given a terminal, when rows advance, then a bar with rows, rate and ETA is redrawn in place", async () => {
    const { out, logger: log } = await logger();
    const tty = Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.WriteStream;
    let drawn = "";
    (tty as unknown as PassThrough).on("data", (d: Buffer) => {
      drawn += d.toString();
    });
    const progress = new Progress({ total: 1000, logger: log, stream: tty });
    await new Promise((resolve) => setTimeout(resolve, 120));
    progress.advance(500);
    progress.done();
    expect(drawn).toMatch(/^\r\[=+ +\] 50% 500 \/ 1,000 rows, [\d,]+ rows\/s, ETA \d+ s/);
    expect(drawn.endsWith("\r\u001b[K")).toBe(true);
    expect(out.text).toBe("");
  });

  it("given no terminal, when rows advance past the interval, then a progress line is logged, never on stdout", async () => {
    const { out, logger: log } = await logger();
    const stream = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
    const progress = new Progress({ total: 2_000_000, logger: log, stream, interval: 0 });
    progress.advance(1_000_000);
    progress.done();
    const line = JSON.parse(out.lines[0]!) as { msg: string; rows: number; total: number };
    expect(line).toMatchObject({ rows: 1_000_000, total: 2_000_000 });
    expect(line.msg).toMatch(/^\[Inference\] Progress: \[=+ +\] 50% 1,000,000 \/ 2,000,000 rows/);
  });
});
