import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BIKES, cli, ROOT, removeDir, reportedError, tempDir } from "../helpers.js";

const RECEIVER = join(ROOT, "examples", "webhook-demo", "receiver.mjs");
const CONFS = [join(BIKES, "confs", "inference.yaml"), join(BIKES, "confs", "webhook.yaml")];
const SECRET = "demo-hmac-secret-K3p9";
const TOKEN = "path-token-W6r1";

/** The demo receiver (examples/webhook-demo/receiver.mjs) in a child process, printing JSON lines. */
class DemoReceiver {
  private out = "";
  private constructor(private readonly child: ChildProcess) {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      this.out += chunk;
    });
  }

  static async start(args: string[] = []): Promise<DemoReceiver> {
    const child = spawn(process.execPath, [RECEIVER, "--port", "0", "--json", ...args], {
      env: { ...process.env, MLBATCH_WEBHOOK_SECRET: SECRET },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const receiver = new DemoReceiver(child);
    await receiver.waitFor(1);
    return receiver;
  }

  get records(): Record<string, unknown>[] {
    return this.out
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** The URL the receiver listens on. */
  get url(): string {
    return this.records[0]!.listening as string;
  }

  /** Waits (at most 15 s) until `count` records were printed. */
  async waitFor(count: number): Promise<Record<string, unknown>[]> {
    for (let waited = 0; this.records.length < count && waited < 15_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.records;
  }

  stop(): void {
    this.child.kill("SIGTERM");
  }
}

let receiver: DemoReceiver | undefined;
let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  receiver?.stop();
  receiver = undefined;
  removeDir(dir);
});

/** Runs the CLI on the example with the webhook overlay, outputs in the temporary folder, DEBUG logs. */
function runDemo(url: string, extras: string[] = [], output = join(dir, "predictions.parquet")) {
  return cli(
    ["run", ...CONFS, "-e", `job: {outputs: {path: '${output}'}, logger_service: {level: DEBUG}}`, ...extras],
    { env: { MLBATCH_WEBHOOK_URL: url, MLBATCH_WEBHOOK_SECRET: SECRET } },
  );
}

describe("the webhook demo (CLI)", () => {
  it("given the webhook overlay and the demo receiver, when the job succeeds then fails, then both signed alerts arrive", async () => {
    receiver = await DemoReceiver.start();
    const url = `${receiver.url}hooks/${TOKEN}`;

    const success = runDemo(url);
    expect(success.code).toBe(0);
    expect(success.stdout).toBe("[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)\n");
    const [, finished] = await receiver.waitFor(2);
    expect(finished).toMatchObject({
      status: 200,
      signature: "valid",
      payload: {
        event: "finished",
        status: "success",
        app_name: "Bikes",
        shape: [3476, 2],
        model: { name: "bikes", version: 2, alias: "Champion", uri: "models:/bikes@Champion" },
        rows: { read: 3476, written: 3476, rejected: 0 },
        outputs: join(dir, "predictions.parquet"),
        error: null,
      },
    });

    const failure = runDemo(
      url,
      ["-e", "job: {inputs: {path: no/such/file.parquet}}"],
      join(dir, "not-written.parquet"),
    );
    expect(failure.code).toBe(1);
    expect(reportedError(failure.stderr)).toContain("error [E_READ] (step: read)");
    expect(failure.stdout).toContain("[Bikes] Inference Job Failed: [E_READ] cannot read inputs");
    const [, , failed] = await receiver.waitFor(3);
    expect(failed).toMatchObject({
      status: 200,
      signature: "valid",
      payload: {
        event: "failed",
        status: "failure",
        shape: null,
        error: { step: "read", code: "E_READ", message: expect.stringContaining("no/such/file.parquet") },
      },
    });

    for (const run of [success, failure]) {
      expect(run.stderr).toContain("[Alerts] Sent with WebhookChannel(http://127.0.0.1:");
      expect(run.stdout + run.stderr).not.toContain(TOKEN);
      expect(run.stdout + run.stderr).not.toContain(SECRET);
    }
  });

  it("given a receiver that fails the first request, when the job runs, then the retry is delivered and the job succeeds", async () => {
    receiver = await DemoReceiver.start(["--fail-first", "1"]);
    const run = runDemo(`${receiver.url}hooks/${TOKEN}`, [
      "-e",
      "job: {alerts_service: {channels: [{KIND: WebhookChannel, url: '${oc.env:MLBATCH_WEBHOOK_URL}', hmac_secret: '${oc.env:MLBATCH_WEBHOOK_SECRET}', backoff_seconds: 0.1}]}}",
    ]);
    expect(run.code).toBe(0);
    const records = await receiver.waitFor(3);
    expect(records.slice(1).map((r) => r.status)).toEqual([500, 200]);
    expect(records[1]!.delivery).toBe(records[2]!.delivery);
    expect(run.stdout).toBe("");
    expect(run.stderr).not.toContain('"level":40');
  });

  it("given no receiver listening, when the job runs, then it still succeeds and logs one warning without secrets", () => {
    const run = runDemo(`http://127.0.0.1:9/hooks/${TOKEN}`, [
      "-e",
      "job: {alerts_service: {channels: [{KIND: ConsoleChannel}, {KIND: WebhookChannel, url: '${oc.env:MLBATCH_WEBHOOK_URL}', max_attempts: 2, backoff_seconds: 0.1}]}}",
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)\n");
    const warnings = run.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((line) => line.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: expect.stringMatching(
          /WebhookChannel\(http:\/\/127\.0\.0\.1:9\/…\) did not deliver .* after 2 attempt/,
        ),
      }),
    ]);
    expect(run.stderr).not.toContain(TOKEN);
  });
});
