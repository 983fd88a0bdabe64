import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { desktopSupport, type Notifier } from "../../../src/services/channels/desktop-channel.js";
import { alertsService, FAILED, FINISHED, logLines } from "./helpers.js";

let bin: string | undefined;
afterEach(() => {
  if (bin !== undefined) rmSync(bin, { recursive: true, force: true });
  bin = undefined;
});

/** A PATH folder holding an executable notify-send. */
function pathWithNotifySend(): string {
  bin = mkdtempSync(join(tmpdir(), "mlbatch-bin-"));
  writeFileSync(join(bin, "notify-send"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  return bin;
}

/** A notifier that records what it is asked to show, failing the first `failures` times. */
function fakeNotifier(failures = 0): Notifier & { shown: unknown[] } {
  const shown: unknown[] = [];
  let calls = 0;
  return {
    shown,
    notify(notification, callback) {
      calls++;
      if (calls <= failures) setImmediate(() => callback(new Error("notify-send exited with code 1")));
      else {
        shown.push(notification);
        setImmediate(() => callback(null));
      }
    },
  };
}

describe("desktopSupport", () => {
  it("given each platform and environment, then only a graphical session with notify-send is supported on Linux", () => {
    expect(desktopSupport({ platform: "darwin", env: {} })).toEqual({ supported: true });
    expect(desktopSupport({ platform: "win32", env: {} })).toEqual({ supported: true });
    expect(desktopSupport({ platform: "linux", env: { PATH: "/usr/bin" } })).toEqual({
      supported: false,
      reason: "no graphical session (DISPLAY and WAYLAND_DISPLAY are unset)",
    });
    expect(desktopSupport({ platform: "linux", env: { DISPLAY: ":0", PATH: "/nonexistent" } })).toMatchObject(
      {
        supported: false,
        reason: expect.stringContaining("notify-send is not installed"),
      },
    );
    const path = pathWithNotifySend();
    expect(desktopSupport({ platform: "linux", env: { WAYLAND_DISPLAY: "wayland-0", PATH: path } })).toEqual({
      supported: true,
    });
    expect(desktopSupport({ platform: "aix", env: {} })).toMatchObject({ supported: false });
  });
});

describe("DesktopChannel", () => {
  it("given no desktop (as on this machine's CI), when notified twice, then the console line is written and the fallback noted once", async () => {
    const notifier = fakeNotifier();
    const { alerts, logs, console, stop } = await alertsService(
      { app_name: "Bikes", channels: [{ KIND: "DesktopChannel" }] },
      { desktop: { platform: "linux", env: { PATH: "/usr/bin" }, notifier } },
    );
    await alerts.notify(FINISHED);
    await alerts.notify(FAILED);
    await stop();
    expect(console.lines).toEqual([
      "[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)",
      `[Bikes] Inference Job Failed: [E_READ] ${FAILED.error!.message}`,
    ]);
    expect(notifier.shown).toEqual([]);
    const notes = logLines(logs).filter((l) => l.level === 40);
    expect(notes).toEqual([
      expect.objectContaining({
        msg: "[Alerts] DesktopChannel: no graphical session (DISPLAY and WAYLAND_DISPLAY are unset); the alert goes to the console instead",
      }),
    ]);
  });

  // With no stand-in: this process's OS and environment (skipped where a real desktop would pop up).
  it.runIf(!desktopSupport(process).supported)(
    "given this machine without a desktop, when notified with the default environment, then the console line is written",
    async () => {
      const { alerts, console, logs, stop } = await alertsService({ channels: [{ KIND: "DesktopChannel" }] });
      await alerts.notify(FINISHED);
      await stop();
      expect(console.lines).toEqual(["[mlbatch] Inference Job Finished: Outputs Shape: (3476, 2)"]);
      expect(logs.text).toContain("the alert goes to the console instead");
    },
  );

  it("given a desktop, when notified, then the notifier shows the title and message for alerts_service.timeout seconds", async () => {
    const notifier = fakeNotifier();
    const { alerts, console, logs, stop } = await alertsService(
      { app_name: "Bikes", timeout: 7, channels: [{ KIND: "DesktopChannel" }] },
      { desktop: { platform: "darwin", env: {}, notifier } },
    );
    await alerts.notify(FINISHED);
    await stop();
    expect(notifier.shown).toEqual([
      {
        title: "[Bikes] Inference Job Finished",
        message: "Outputs Shape: (3476, 2)",
        timeout: 7,
        wait: false,
      },
    ]);
    expect(console.text).toBe("");
    expect(logLines(logs).filter((l) => l.level >= 40)).toEqual([]);
  });

  it("given a notifier that fails once, when notified, then the retry shows the notification", async () => {
    const notifier = fakeNotifier(1);
    const { alerts, logs, stop } = await alertsService(
      { channels: [{ KIND: "DesktopChannel", backoff_seconds: 0.01 }] },
      { desktop: { platform: "win32", env: {}, notifier } },
    );
    await alerts.notify(FAILED);
    await stop();
    expect(notifier.shown).toHaveLength(1);
    expect(logLines(logs).filter((l) => l.level >= 40)).toEqual([]);
  });
});
