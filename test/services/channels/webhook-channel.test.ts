import { createHmac, timingSafeEqual } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { deliveryBound } from "../../../src/services/channels/delivery.js";
import { webhookPayload } from "../../../src/services/channels/webhook-channel.js";
import { alertsService, FAILED, FINISHED, HttpReceiver, logLines } from "./helpers.js";

const SECRET = "hmac-secret-Zq8Jv1T5";
const TOKEN = "tok-9f3b2c7e41";
const BEARER = "Bearer api-key-7Yc2Lx";

let receiver: HttpReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

/** A webhook channel config on the receiver, with a token in the URL, a credential header and an HMAC. */
function webhook(overrides: Record<string, unknown> = {}) {
  return {
    KIND: "WebhookChannel",
    url: receiver!.url(`/hooks/${TOKEN}?key=${TOKEN}`),
    headers: { Authorization: BEARER, "X-Team": "ml-platform" },
    hmac_secret: SECRET,
    backoff_seconds: 0.01,
    ...overrides,
  };
}

/** How a receiver checks the signature (the guide shows the same code). */
function verify(secret: string, rawBody: string, header: string | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`);
  const given = Buffer.from(header ?? "");
  return expected.length === given.length && timingSafeEqual(expected, given);
}

describe("WebhookChannel", () => {
  it("given headers and an HMAC secret, when a job finishes, then the signed JSON payload carries every fact", async () => {
    receiver = await HttpReceiver.start();
    const { alerts, logs, stop } = await alertsService({ app_name: "Bikes", channels: [webhook()] });
    await alerts.notify(FINISHED);
    await stop();

    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request).toMatchObject({ method: "POST", path: `/hooks/${TOKEN}?key=${TOKEN}` });
    expect(request!.headers).toMatchObject({
      "content-type": "application/json",
      authorization: BEARER,
      "x-team": "ml-platform",
      "x-mlbatch-event": "finished",
    });
    expect(verify(SECRET, request!.body, request!.headers["x-mlbatch-signature"] as string)).toBe(true);
    expect(verify("another secret", request!.body, request!.headers["x-mlbatch-signature"] as string)).toBe(
      false,
    );
    const payload = JSON.parse(request!.body) as Record<string, unknown>;
    expect(payload).toEqual({
      id: request!.headers["x-mlbatch-delivery"],
      event: "finished",
      status: "success",
      job: "Inference Job",
      app_name: "Bikes",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      title: "Inference Job Finished",
      message: "Outputs Shape: (3476, 2)",
      shape: [3476, 2],
      model: { name: "bikes", version: 2, alias: "Champion", uri: "models:/bikes@Champion" },
      rows: { read: 3476, written: 3476, rejected: 0 },
      outputs: "outputs/predictions_test.parquet",
      durations: {
        services: 0.012,
        read: 0.046,
        load: 0.21,
        validate: 0.1,
        predict: 0.3,
        write: 0.08,
        total: 0.923,
      },
      error: null,
    });
    expect(logLines(logs).filter((l) => l.level >= 40)).toEqual([]);
  });

  it("given a failed job, when notified, then the payload carries the failed step, code and message", async () => {
    receiver = await HttpReceiver.start();
    const { alerts, stop } = await alertsService({ channels: [webhook()] });
    await alerts.notify(FAILED);
    await stop();
    const payload = JSON.parse(receiver.requests[0]!.body) as Record<string, unknown>;
    expect(payload).toMatchObject({
      event: "failed",
      status: "failure",
      app_name: "mlbatch",
      title: "Inference Job Failed",
      shape: null,
      model: null,
      rows: null,
      outputs: null,
      error: FAILED.error,
    });
    expect(receiver.requests[0]!.headers["x-mlbatch-event"]).toBe("failed");
  });

  it("given the first delivery fails with 500, when notified, then the retry succeeds with the same body and signature", async () => {
    receiver = await HttpReceiver.start((n) => (n === 1 ? 500 : 200));
    const { alerts, logs, stop } = await alertsService({ channels: [webhook()] });
    await alerts.notify(FINISHED);
    await stop();
    expect(receiver.requests).toHaveLength(2);
    const [first, second] = receiver.requests;
    expect(second!.body).toBe(first!.body);
    expect(second!.headers["x-mlbatch-signature"]).toBe(first!.headers["x-mlbatch-signature"]);
    expect(second!.headers["x-mlbatch-delivery"]).toBe(first!.headers["x-mlbatch-delivery"]);
    const lines = logLines(logs);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringContaining("attempt 1 failed: HTTP 500"),
      expect.stringContaining("[Alerts] Sent with WebhookChannel(http://127.0.0.1:"),
    ]);
  });

  it("given an endpoint that always answers 503, when notified, then max_attempts are made and one warning is logged", async () => {
    receiver = await HttpReceiver.start(() => 503);
    const { alerts, logs, stop } = await alertsService({ channels: [webhook({ max_attempts: 4 })] });
    await alerts.notify(FINISHED);
    await stop();
    expect(receiver.requests).toHaveLength(4);
    const warnings = logLines(logs).filter((l) => l.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: expect.stringContaining("did not deliver the finished alert after 4 attempt(s): HTTP 503"),
        attempts: 4,
      }),
    ]);
  });

  it("given an endpoint answering 400, when notified, then it is not retried", async () => {
    receiver = await HttpReceiver.start(() => 400);
    const { alerts, logs, stop } = await alertsService({ channels: [webhook()] });
    await alerts.notify(FINISHED);
    await stop();
    expect(receiver.requests).toHaveLength(1);
    expect(logLines(logs).filter((l) => l.level === 40)[0]?.msg).toContain("after 1 attempt(s): HTTP 400");
  });

  it("given a header value with a line break, when notified, then nothing is sent and it is not retried", async () => {
    receiver = await HttpReceiver.start();
    const { alerts, logs, stop } = await alertsService({
      channels: [webhook({ headers: { Authorization: `${BEARER}\r\nX-Injected: 1` } })],
    });
    await alerts.notify(FINISHED);
    await stop();
    expect(receiver.requests).toHaveLength(0);
    const warning = logLines(logs).filter((l) => l.level === 40)[0]?.msg;
    expect(warning).toContain("after 1 attempt(s): invalid request: Invalid character in header content");
    expect(warning).not.toContain("api-key-7Yc2Lx");
  });

  it("given a hanging endpoint, when notified, then each attempt times out and notify returns within its bound", async () => {
    receiver = await HttpReceiver.start(() => "hang");
    const channel = webhook({ timeout_seconds: 0.5, max_attempts: 2, backoff_seconds: 0.05 });
    const { alerts, logs, stop } = await alertsService({ channels: [channel] });
    const started = performance.now();
    await expect(alerts.notify(FINISHED)).resolves.toBeUndefined();
    const elapsed = performance.now() - started;
    await stop();
    const bound = deliveryBound({ timeoutSeconds: 0.5, maxAttempts: 2, backoffSeconds: 0.05 });
    expect(elapsed).toBeLessThan(bound + 10_000);
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(receiver.requests).toHaveLength(2);
    expect(logLines(logs).filter((l) => l.level === 40)[0]?.msg).toContain(
      "after 2 attempt(s): timed out after 0.5 s",
    );
  });

  it("given secrets in the URL, a header and the HMAC, when deliveries fail, then no log line contains them", async () => {
    receiver = await HttpReceiver.start(() => 404);
    const { alerts, logs, console, stop } = await alertsService({
      channels: [{ KIND: "ConsoleChannel" }, webhook()],
    });
    await alerts.notify(FINISHED);
    await alerts.notify(FAILED);
    // A refused connection: the error names the address, not the path.
    const closed = webhook({ max_attempts: 2 });
    await receiver.close();
    receiver = undefined;
    const gone = await alertsService({ channels: [closed] });
    await gone.alerts.notify(FINISHED);
    await gone.stop();
    await stop();

    const text = logs.text + console.text + gone.logs.text + gone.console.text;
    expect(logLines(logs).filter((l) => l.level === 40)).toHaveLength(2);
    expect(logs.text).toContain("HTTP 404 (status 404 for [REDACTED] (authorization: [REDACTED]))");
    expect(gone.logs.text).toContain("ECONNREFUSED");
    for (const secret of [TOKEN, SECRET, BEARER, "api-key-7Yc2Lx"]) expect(text).not.toContain(secret);
    expect(text).toContain("WebhookChannel(http://127.0.0.1:");
  });
});

describe("webhookPayload", () => {
  it("given an event without facts, then every key is present with null", () => {
    const payload = webhookPayload({
      event: { event: "finished", job: "Inference Job", status: "success" },
      appName: "x",
      timestamp: new Date("2026-01-02T03:04:05.678Z"),
      id: "id-1",
    });
    expect(payload).toEqual({
      id: "id-1",
      event: "finished",
      status: "success",
      job: "Inference Job",
      app_name: "x",
      timestamp: "2026-01-02T03:04:05.678Z",
      title: "Inference Job Finished",
      message: "",
      shape: null,
      model: null,
      rows: null,
      outputs: null,
      durations: null,
      error: null,
    });
  });
});
