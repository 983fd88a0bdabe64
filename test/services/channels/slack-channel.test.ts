import { afterEach, describe, expect, it } from "vitest";
import { slackMessage } from "../../../src/services/channels/slack-channel.js";
import { alertsService, FAILED, FINISHED, HttpReceiver, logLines } from "./helpers.js";

const PATH = "/services/T0001/B0002/XyZsecretTokenValue";

let receiver: HttpReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function slack(overrides: Record<string, unknown> = {}) {
  return { KIND: "SlackChannel", webhook_url: receiver!.url(PATH), backoff_seconds: 0.01, ...overrides };
}

describe("SlackChannel", () => {
  it("given a finished job, when notified, then a Block Kit message with the facts and a text fallback is posted", async () => {
    receiver = await HttpReceiver.start();
    const { alerts, stop } = await alertsService({ app_name: "Bikes", channels: [slack()] });
    await alerts.notify(FINISHED);
    await stop();
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request).toMatchObject({ method: "POST", path: PATH });
    expect(request!.headers["content-type"]).toBe("application/json; charset=utf-8");
    const message = JSON.parse(request!.body) as { text: string; blocks: Record<string, unknown>[] };
    expect(message.text).toBe("[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)");
    expect(message.blocks.map((b) => b.type)).toEqual(["header", "section", "context"]);
    expect(message.blocks[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: ":white_check_mark: [Bikes] Inference Job Finished", emoji: true },
    });
    expect(message.blocks[1]).toEqual({
      type: "section",
      fields: [
        { type: "mrkdwn", text: "*Model*\nbikes v2 (alias Champion)" },
        { type: "mrkdwn", text: "*Outputs shape*\n(3476, 2)" },
        { type: "mrkdwn", text: "*Rows*\n3476 read, 3476 written, 0 rejected" },
        { type: "mrkdwn", text: "*Outputs*\noutputs/predictions_test.parquet" },
        { type: "mrkdwn", text: "*Duration*\n0.9 s" },
      ],
    });
  });

  it("given a failed job and a first answer 500, when notified, then the retry posts the step, code and message", async () => {
    receiver = await HttpReceiver.start((n) => (n === 1 ? 500 : 200));
    const { alerts, logs, stop } = await alertsService({ channels: [slack()] });
    await alerts.notify(FAILED);
    await stop();
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1]!.body).toBe(receiver.requests[0]!.body);
    const message = JSON.parse(receiver.requests[1]!.body) as { text: string; blocks: unknown[] };
    expect(message.text).toBe(`[mlbatch] Inference Job Failed: [E_READ] ${FAILED.error!.message}`);
    expect(message.blocks).toContainEqual({
      type: "section",
      fields: [
        { type: "mrkdwn", text: "*Failed step*\nread" },
        { type: "mrkdwn", text: "*Error code*\nE_READ" },
        { type: "mrkdwn", text: "*Duration*\n0.0 s" },
      ],
    });
    expect(message.blocks).toContainEqual({
      type: "section",
      text: { type: "mrkdwn", text: `*Error*\n\`\`\`${FAILED.error!.message}\`\`\`` },
    });
    expect(logLines(logs).filter((l) => l.level >= 40)).toEqual([]);
    expect(logs.text).not.toContain("XyZsecretTokenValue");
  });

  it("given on: [failure], when a job finishes, then nothing is posted", async () => {
    receiver = await HttpReceiver.start();
    const { alerts, stop } = await alertsService({ channels: [slack({ on: ["failure"] })] });
    await alerts.notify(FINISHED);
    await stop();
    expect(receiver.requests).toHaveLength(0);
  });
});

describe("slackMessage", () => {
  it("given text with Slack's control characters and a very long error, then they are escaped and cut to Slack's limits", () => {
    const message = slackMessage({
      event: { ...FAILED, error: { step: "read", code: "E_READ", message: `<a & b> ${"x".repeat(5000)}` } },
      appName: "A",
      timestamp: new Date(0),
      id: "1",
    });
    const error = message.blocks[2] as { text: { text: string } };
    expect(error.text.text.startsWith("*Error*\n```&lt;a &amp; b&gt; xxx")).toBe(true);
    expect(error.text.text.length).toBeLessThanOrEqual(3000);
    expect(error.text.text.endsWith("…```")).toBe(true);
  });
});
