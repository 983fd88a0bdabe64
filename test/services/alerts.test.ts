import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/config/load.js";
import { MlbatchError } from "../../src/errors.js";
import { InferenceJob, InferenceJobConfig } from "../../src/jobs/inference.js";
import { AlertsService, AlertsServiceConfig } from "../../src/services/alerts.js";
import { MlflowService } from "../../src/services/mlflow.js";
import { settingsJsonSchema } from "../../src/settings.js";
import { Capture, EXAMPLE_REGISTRY, INPUTS_TEST, removeDir, tempDir } from "../helpers.js";
import {
  alertsService,
  capturedLogger,
  FAILED,
  FINISHED,
  HttpReceiver,
  logLines,
} from "./channels/helpers.js";

const EXAMPLE = join(import.meta.dirname, "..", "..", "examples", "bikes", "confs", "inference.yaml");

let receivers: HttpReceiver[] = [];
let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  for (const receiver of receivers) await receiver.close();
  receivers = [];
  removeDir(dir);
});

async function receiver(...args: Parameters<typeof HttpReceiver.start>): Promise<HttpReceiver> {
  const started = await HttpReceiver.start(...args);
  receivers.push(started);
  return started;
}

describe("AlertsServiceConfig", () => {
  it("given the reference's fields only, when parsed, then the channels default to the console for both outcomes", () => {
    expect(AlertsServiceConfig.parse({ enable: true, app_name: "Bikes", timeout: null })).toEqual({
      enable: true,
      app_name: "Bikes",
      timeout: null,
      channels: [{ KIND: "ConsoleChannel", on: ["success", "failure"] }],
    });
  });

  it("given a webhook channel, when parsed, then its delivery defaults apply", () => {
    const config = AlertsServiceConfig.parse({
      channels: [{ KIND: "WebhookChannel", url: "https://x.test/h" }],
    });
    expect(config.channels[0]).toEqual({
      KIND: "WebhookChannel",
      url: "https://x.test/h",
      signature_header: "X-Mlbatch-Signature",
      on: ["success", "failure"],
      timeout_seconds: 10,
      max_attempts: 3,
      backoff_seconds: 1,
    });
  });

  it("given a secret URL from the environment, when a config is loaded, then it is interpolated and validated", async () => {
    const extras = [
      "job: {alerts_service: {channels: [{KIND: SlackChannel, webhook_url: '${oc.env:TEST_SLACK_URL}'}]}}",
    ];
    const settings = await loadSettings([EXAMPLE], extras, {
      TEST_SLACK_URL: "https://hooks.slack.test/T/B/x",
    });
    expect(settings.job.alerts_service.channels).toEqual([
      expect.objectContaining({ KIND: "SlackChannel", webhook_url: "https://hooks.slack.test/T/B/x" }),
    ]);
  });

  it("given an unknown channel KIND, a bad URL holding a token, and an unknown key, when loaded, then E_CONFIG names each path without echoing the URL", async () => {
    const extras = [
      "job: {alerts_service: {channels: [{KIND: PagerChannel}, {KIND: WebhookChannel, url: 'ftp://x.test/t0ken-123'}, {KIND: ConsoleChannel, colour: red}]}}",
    ];
    const error = await loadSettings([EXAMPLE], extras).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlbatchError);
    const { code, message } = error as MlbatchError;
    expect(code).toBe("E_CONFIG");
    expect(message).toContain(
      'job.alerts_service.channels.0.KIND: unknown kind "PagerChannel", expected one of ConsoleChannel, DesktopChannel, SlackChannel, WebhookChannel, EmailChannel',
    );
    expect(message).toContain("job.alerts_service.channels.1.url:");
    expect(message).toContain("job.alerts_service.channels.2.colour: unknown key");
    expect(message).not.toContain("t0ken-123");
  });

  it("given the settings' JSON Schema, then it describes every channel KIND", () => {
    const schema = JSON.stringify(settingsJsonSchema());
    for (const kind of [
      "ConsoleChannel",
      "DesktopChannel",
      "SlackChannel",
      "WebhookChannel",
      "EmailChannel",
    ]) {
      expect(schema).toContain(`"const":"${kind}"`);
    }
  });
});

describe("AlertsService", () => {
  it("given no channels config, when a job finishes, then the console line is exactly the reference's", async () => {
    const out = new Capture();
    await new AlertsService({ app_name: "Bikes" }, out).notify(FINISHED);
    expect(out.text).toBe("[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)\n");
  });

  it("given channels for success only and failure only, when each outcome is notified, then only the matching channels send", async () => {
    const failures = await receiver();
    const { alerts, console, stop } = await alertsService({
      channels: [
        { KIND: "ConsoleChannel", on: ["success"] },
        { KIND: "WebhookChannel", url: failures.url("/f"), on: ["failure"] },
      ],
    });
    await alerts.notify(FINISHED);
    await alerts.notify(FAILED);
    await stop();
    expect(console.lines).toEqual(["[mlbatch] Inference Job Finished: Outputs Shape: (3476, 2)"]);
    expect(failures.requests.map((r) => JSON.parse(r.body).event)).toEqual(["failed"]);
  });

  it("given a hanging channel before a working one, when notified, then they are sent concurrently and the hang only warns", async () => {
    const hanging = await receiver(() => "hang");
    let hangingRequestsWhenFastArrived = -1;
    const fast = await receiver(() => {
      hangingRequestsWhenFastArrived = hanging.requests.length;
      return 200;
    });
    const { alerts, logs, console, stop } = await alertsService({
      channels: [
        {
          KIND: "WebhookChannel",
          url: hanging.url("/slow"),
          timeout_seconds: 0.5,
          max_attempts: 2,
          backoff_seconds: 0,
        },
        { KIND: "WebhookChannel", url: fast.url("/fast") },
        { KIND: "ConsoleChannel" },
      ],
    });
    await expect(alerts.notify(FINISHED)).resolves.toBeUndefined();
    await stop();
    // Sent one after the other, the fast channel would see the request only after both hanging attempts.
    expect(hangingRequestsWhenFastArrived).toBeLessThan(2);
    expect(hanging.requests).toHaveLength(2);
    expect(fast.requests).toHaveLength(1);
    expect(console.lines).toHaveLength(1);
    expect(logLines(logs).filter((l) => l.level === 40)).toEqual([
      expect.objectContaining({ msg: expect.stringContaining("timed out after 0.5 s") }),
    ]);
  });

  it("given enable false, when notified, then no channel sends", async () => {
    const target = await receiver();
    const { alerts, console, stop } = await alertsService({
      enable: false,
      channels: [{ KIND: "ConsoleChannel" }, { KIND: "WebhookChannel", url: target.url("/") }],
    });
    await alerts.notify(FINISHED);
    await stop();
    expect(console.text).toBe("");
    expect(target.requests).toEqual([]);
  });
});

describe("AlertsService in an inference job", () => {
  /** An inference job on the example registry whose alerts go to the console capture and a webhook. */
  async function job(url: string, inputs = INPUTS_TEST) {
    const config = InferenceJobConfig.parse({
      KIND: "InferenceJob",
      inputs: { KIND: "ParquetReader", path: inputs },
      outputs: { KIND: "ParquetWriter", path: join(dir, "predictions.parquet") },
      mlflow_service: { registry_uri: EXAMPLE_REGISTRY },
      alerts_service: {
        app_name: "Bikes",
        channels: [
          { KIND: "ConsoleChannel" },
          { KIND: "WebhookChannel", url, timeout_seconds: 0.5, max_attempts: 2, backoff_seconds: 0.05 },
        ],
      },
    });
    const { service: logger, logs } = await capturedLogger();
    const console = new Capture();
    const alerts = new AlertsService(config.alerts_service, console, { logger: () => logger.logger });
    const built = InferenceJob.fromConfig(config, {
      logger,
      alerts,
      mlflow: new MlflowService(config.mlflow_service),
    });
    return { job: built, logs, console };
  }

  it("given a hanging webhook, when the job runs, then it succeeds with its shape and the alert only warns", async () => {
    const hanging = await receiver(() => "hang");
    const { job: inference, logs, console } = await job(hanging.url("/hook"));
    const locals = await inference.execute();
    expect(locals.shape).toEqual([3476, 2]);
    expect(console.lines).toEqual(["[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)"]);
    expect(hanging.requests).toHaveLength(2);
    expect(logs.text).toContain("timed out after 0.5 s");
  });

  it("given a webhook, when the job succeeds, then it receives the facts the job gathered", async () => {
    const target = await receiver();
    const { job: inference } = await job(target.url("/hook"));
    await inference.execute();
    const payload = JSON.parse(target.requests[0]!.body);
    expect(payload).toMatchObject({
      event: "finished",
      status: "success",
      app_name: "Bikes",
      shape: [3476, 2],
      model: { name: "bikes", version: 2, alias: "Champion", uri: "models:/bikes@Champion" },
      rows: { read: 3476, written: 3476, rejected: 0 },
      outputs: join(dir, "predictions.parquet"),
      error: null,
    });
    expect(Object.keys(payload.durations)).toEqual(
      expect.arrayContaining(["services", "read", "load", "validate", "predict", "write", "total"]),
    );
  });

  it("given a failing webhook and missing inputs, when the job runs, then it fails with its own error, not the alert's", async () => {
    const failing = await receiver(() => 500);
    const missing = join(dir, "missing.parquet");
    const { job: inference, console } = await job(failing.url("/hook"), missing);
    const error = await inference.execute().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_READ", step: "read" });
    expect(failing.requests).toHaveLength(2);
    expect(JSON.parse(failing.requests[0]!.body).error).toMatchObject({ step: "read", code: "E_READ" });
    expect(console.lines[0]).toContain("[Bikes] Inference Job Failed: [E_READ]");
  });
});
