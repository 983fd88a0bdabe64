import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/config/load.js";
import { MlbatchError } from "../../src/errors.js";
import { webhookSignature } from "../../src/services/channels/webhook-channel.js";
import { BIKES, cli } from "../helpers.js";
import { alertsService, FINISHED, HttpReceiver } from "../services/channels/helpers.js";

const EXAMPLE = join(BIKES, "confs", "inference.yaml");

/** An extra that signs a webhook with `${oc.env:<variable>}` (default: MLBATCH_TEST_SECRET). */
function signedWebhook(url: string, secret = "${oc.env:MLBATCH_TEST_SECRET}"): string {
  return `job: {alerts_service: {channels: [{KIND: WebhookChannel, url: '${url}', hmac_secret: '${secret}'}]}}`;
}

async function hmacSecret(extras: string[], env: NodeJS.ProcessEnv): Promise<unknown> {
  const settings = await loadSettings([EXAMPLE], extras, env);
  const [channel] = settings.job.alerts_service.channels;
  return channel?.KIND === "WebhookChannel" ? channel.hmac_secret : undefined;
}

async function configError(extras: string[], env: NodeJS.ProcessEnv = {}): Promise<MlbatchError> {
  const error = await loadSettings([EXAMPLE], extras, env).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(MlbatchError);
  expect((error as MlbatchError).code).toBe("E_CONFIG");
  return error as MlbatchError;
}

/** Secrets that YAML would misread: each indicator first, a tag, a comment, several lines, a number. */
const SECRETS = [
  ...[..."\"%'*,>@[]\\`{|}"].map((indicator) => `${indicator}s3cr3t-Xq`),
  "!s3cr3t-Xq",
  "!!binary s3cr3t-Xq",
  "pa55 #word",
  "s3cr3t: Xq",
  "line one\nline: two\n  - three",
  "  padded s3cr3t  ",
  "12345",
  "true",
  "~",
];

describe("${oc.env:NAME} values (secrets)", () => {
  let receiver: HttpReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it.each(SECRETS)(
    "given the secret %j in the environment, when loaded, then it arrives intact",
    async (secret) => {
      expect(await hmacSecret([signedWebhook("https://x.test/h")], { MLBATCH_TEST_SECRET: secret })).toBe(
        secret,
      );
    },
  );

  it("given an unset variable whose default holds YAML characters, when loaded, then the default arrives intact", async () => {
    expect(
      await hmacSecret([signedWebhook("https://x.test/h", "${oc.env:UNSET_X,%pa55 #word [x}")], {}),
    ).toBe("%pa55 #word [x");
  });

  it("given `pa55 #word` as HMAC secret, when a notification is sent, then it is signed with the whole secret", async () => {
    receiver = await HttpReceiver.start();
    const settings = await loadSettings([EXAMPLE], [signedWebhook(receiver.url("/hook"))], {
      MLBATCH_TEST_SECRET: "pa55 #word",
    });
    const { alerts, stop } = await alertsService(settings.job.alerts_service);
    await alerts.notify(FINISHED);
    await stop();
    const [request] = receiver.requests;
    expect(request?.headers["x-mlbatch-signature"]).toBe(webhookSignature("pa55 #word", request?.body ?? ""));
    expect(request?.headers["x-mlbatch-signature"]).not.toBe(webhookSignature("pa55", request?.body ?? ""));
  });

  it("given numbers and booleans from the environment in fields that take them, when loaded, then they are read as such", async () => {
    const settings = await loadSettings(
      [EXAMPLE],
      [
        "job: {batch_size: '${oc.env:BS}', alias_or_version: '${oc.env:V}', logger_service: {colorize: '${oc.env:C}'}}",
        "job: {validation: {constraints: {hr: {ge: '${oc.env:LOW}', le: '${oc.env:HIGH,23}'}}}}",
      ],
      { BS: "64", V: "2", C: "false", LOW: "0.5" },
    );
    expect(settings.job.batch_size).toBe(64);
    expect(settings.job.alias_or_version).toBe(2);
    expect(settings.job.logger_service.colorize).toBe(false);
    expect(settings.job.validation.constraints.hr).toMatchObject({ ge: 0.5, le: 23 });
  });

  it("given a value from the environment that the schema refuses, when validated (expected failure), then the message names the variable, never the value", async () => {
    const error = await configError(
      [
        "job: {batch_size: '${oc.env:BS}', inputs: {KIND: '${oc.env:READER}'}}",
        "job: {outputs: {mode: 'x-${oc.env:MODE}'}, validation: {on_invalid: '${oc.env:ON}'}}",
      ],
      { BS: "{s3cr3t-1", READER: "s3cr3t-2", MODE: "s3cr3t-3", ON: "s3cr3t-4" },
    );
    expect(error.message).toContain(
      "job.batch_size: <from ${BS}> is not allowed; expected a positive whole number",
    );
    expect(error.message).toContain("job.inputs.KIND: unknown kind <from ${READER}>, expected one of");
    expect(error.message).toContain('job.outputs.mode: <from ${MODE}> is not allowed; expected "error" or');
    expect(error.message).toContain(
      'job.validation.on_invalid: <from ${ON}> is not allowed; expected "fail"',
    );
    expect(error.message).not.toMatch(/s3cr3t/);
  });

  it("given a quarantine refinement quoting an interpolated value, when validated (expected failure), then the value is replaced", async () => {
    const error = await configError(
      ["job: {validation: {on_invalid: '${oc.env:ON}', quarantine: {KIND: ParquetWriter, path: q.parquet}}}"],
      { ON: "drop" },
    );
    expect(error.message).toContain(
      'job.validation.quarantine: only used with on_invalid "quarantine" (it is "<from ${ON}>")',
    );
  });

  it("given secrets YAML cannot parse, when the CLI validates a refused config (expected failure), then stderr holds no secret, no warning and no stack trace", () => {
    for (const secret of ['"s3cr3t-Xq', "!s3cr3t-Xq", "{s3cr3t-Xq", "s3cr3t-Xq\n- line two"]) {
      const { code, stdout, stderr } = cli(
        [
          "validate",
          EXAMPLE,
          "-e",
          `${signedWebhook("https://x.test/h")}`,
          "-e",
          "job: {batch_size: '${oc.env:MLBATCH_TEST_SECRET}'}",
        ],
        { env: { MLBATCH_TEST_SECRET: secret } },
      );
      expect(code).toBe(2);
      expect(stderr).toContain("job.batch_size: <from ${MLBATCH_TEST_SECRET}> is not allowed");
      expect(stdout + stderr).not.toContain("s3cr3t");
      expect(stderr).not.toMatch(/Warning|\n\s+at /);
    }
  });
});

describe("-e extras with YAML errors", () => {
  it.each([
    ["job: {alerts_service: {token: [t0ken-s3cr3t", "at line 1, column 44", "flow sequence"],
    ['job: {url: "https://x.test/t0ken-s3cr3t', "at line 1, column 40", "missing closing"],
    ["job: {x: !t0ken-s3cr3t abc}", "at line 1, column 10", "unresolved tag"],
    ['job: {x: "t0ken-s3cr3t\\q"}', "at line 1, column 23", "invalid escape sequence"],
    ["job:\n  a: 1\n  a: t0ken-s3cr3t", "at line 3, column 3", "map keys must be unique"],
  ])(
    "given %j (expected failure), when loaded, then E_CONFIG names -e #2, the line and the reason, never the text",
    async (extra, where, reason) => {
      const error = await configError(["job: {batch_size: 8}", extra]);
      expect(error.message).toContain(`-e #2 is not valid YAML ${where}: ${reason}`);
      expect(error.message).not.toContain("t0ken");
      expect(error.cause).toBeUndefined();
    },
  );
});
