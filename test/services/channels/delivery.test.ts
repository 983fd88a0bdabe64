import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../../src/http/retry.js";
import type { Alert, Channel } from "../../../src/services/channels/channel.js";
import {
  deliver,
  deliveryBound,
  deliveryRetries,
  describeError,
  MAX_BACKOFF_SECONDS,
  permanentFailure,
} from "../../../src/services/channels/delivery.js";
import { REDACTED, redact, urlLabel, urlSecrets } from "../../../src/services/channels/redact.js";
import { capturedLogger, FINISHED, logLines } from "./helpers.js";

const ALERT: Alert = { event: FINISHED, appName: "Bikes", timestamp: new Date(0), id: "alert-1" };

/** A channel whose attempts run `attempt(n)`. */
function channel(
  attempt: (n: number, signal: AbortSignal) => Promise<void>,
  policy: Partial<Channel["policy"]> = {},
) {
  let n = 0;
  const test: Channel & { attempts: () => number } = {
    label: "TestChannel",
    secrets: ["hunter2-secret"],
    on: ["success", "failure"],
    policy: { timeoutSeconds: 5, maxAttempts: 3, backoffSeconds: 1, ...policy },
    send: (_alert, signal) => attempt(++n, signal),
    attempts: () => n,
  };
  return test;
}

/** Records the waits instead of waiting. */
function recordedSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe("backoffDelay", () => {
  it("given retries 1..n, then delays double from the base, with jitter in [half, all], capped", () => {
    const base = (seconds: number) =>
      deliveryRetries({ timeoutSeconds: 10, maxAttempts: 3, backoffSeconds: seconds }).backoff;
    expect(backoffDelay(base(1), 1, () => 0)).toBe(0.5);
    expect(backoffDelay(base(1), 1, () => 1)).toBe(1);
    expect(backoffDelay(base(1), 2, () => 1)).toBe(2);
    expect(backoffDelay(base(1), 3, () => 0.5)).toBe(3);
    expect(backoffDelay(base(1), 20, () => 1)).toBe(MAX_BACKOFF_SECONDS);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(base(0.5), 2);
      expect(delay).toBeGreaterThanOrEqual(0.5);
      expect(delay).toBeLessThanOrEqual(1);
    }
  });

  it("given a policy, then the bound is every attempt timing out plus the longest backoffs", () => {
    expect(deliveryBound({ timeoutSeconds: 10, maxAttempts: 3, backoffSeconds: 1 })).toBe(33_000);
    expect(deliveryBound({ timeoutSeconds: 2, maxAttempts: 1, backoffSeconds: 1 })).toBe(2000);
  });
});

describe("deliver", () => {
  it("given two failures then a success, when delivered, then it retries with growing waits and succeeds", async () => {
    const { waits, sleep } = recordedSleep();
    const test = channel(async (n) => {
      if (n < 3) throw new Error(`boom ${n}`);
    });
    const { service, logs } = await capturedLogger();
    expect(await deliver(test, ALERT, service.logger, { sleep, random: () => 1 })).toBe(true);
    expect(test.attempts()).toBe(3);
    expect(waits).toEqual([1000, 2000]);
    expect(logLines(logs).filter((l) => l.level >= 40)).toEqual([]);
  });

  it("given a permanent failure, when delivered, then it is not retried and a warning is logged", async () => {
    const { waits, sleep } = recordedSleep();
    const test = channel(async () => {
      throw permanentFailure("HTTP 404");
    });
    const { service, logs } = await capturedLogger();
    expect(await deliver(test, ALERT, service.logger, { sleep })).toBe(false);
    expect(test.attempts()).toBe(1);
    expect(waits).toEqual([]);
    expect(logLines(logs).filter((l) => l.level === 40)).toEqual([
      expect.objectContaining({ channel: "TestChannel", event: "finished", id: "alert-1", attempts: 1 }),
    ]);
  });

  it("given a channel that ignores its abort signal, when it hangs, then the attempt still ends at the timeout", async () => {
    let aborted = false;
    const test = channel(
      (_n, signal) => {
        signal.addEventListener("abort", () => {
          aborted = true;
        });
        return new Promise<void>(() => {});
      },
      { timeoutSeconds: 0.2, maxAttempts: 1 },
    );
    const { service, logs } = await capturedLogger();
    expect(await deliver(test, ALERT, service.logger)).toBe(false);
    expect(aborted).toBe(true);
    expect(logLines(logs).at(-1)?.msg).toContain("timed out after 0.2 s");
  });

  it("given errors that contain a channel's secret, when logged, then the secret is redacted", async () => {
    const test = channel(
      async () => {
        throw new Error("request to https://x.test/hunter2-secret failed", {
          cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
        });
      },
      { maxAttempts: 2, backoffSeconds: 0 },
    );
    const { service, logs } = await capturedLogger();
    await deliver(test, ALERT, service.logger);
    expect(logs.text).not.toContain("hunter2");
    expect(logs.text).toContain(`request to https://x.test/${REDACTED} failed: socket hang up (ECONNRESET)`);
  });
});

describe("redaction", () => {
  it("given a webhook URL, then its path, query and user info are secrets and the label shows only the origin", () => {
    const url = "https://user:pa55@hooks.example.com:8443/services/T1/B2/secretXYZ?token=abc123";
    expect(urlLabel(url)).toBe("https://hooks.example.com:8443/…");
    expect(urlLabel("https://example.com")).toBe("https://example.com");
    const text = `POST ${url} failed; path /services/T1/B2/secretXYZ?token=abc123; encoded ${encodeURIComponent(url)}; pa55`;
    const redacted = redact(text, urlSecrets(url));
    for (const secret of ["secretXYZ", "abc123", "pa55"]) expect(redacted).not.toContain(secret);
    expect(redacted).toContain("POST [REDACTED] failed");
  });

  it("given nested causes, then describeError joins their messages and codes", () => {
    const error = new Error("fetch failed", {
      cause: Object.assign(new Error("connect refused"), { code: "ECONNREFUSED" }),
    });
    expect(describeError(error)).toBe("fetch failed: connect refused (ECONNREFUSED)");
    expect(describeError("text")).toBe("text");
  });
});
