import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterEach, describe, expect, it } from "vitest";
import { AlertsServiceConfig } from "../../../src/services/alerts.js";
import { alertsService, FAILED, FINISHED, logLines } from "./helpers.js";

const USER = "mlbatch";
const PASSWORD = "smtp-pa55word-Qw7";

interface Mail {
  readonly from: string | undefined;
  readonly to: string[];
  readonly secure: boolean;
  readonly user: unknown;
  readonly raw: string;
}

/** A local SMTP server (smtp-server) on 127.0.0.1: STARTTLS with its built-in self-signed certificate, login required. */
async function smtpServer(): Promise<{
  port: number;
  mails: Mail[];
  logins: string[];
  close: () => Promise<void>;
}> {
  const mails: Mail[] = [];
  const logins: string[] = [];
  const server = new SMTPServer({
    logger: false,
    authMethods: ["PLAIN", "LOGIN"],
    onAuth(auth, _session, callback) {
      logins.push(`${auth.username}:${auth.password}`);
      if (auth.username === USER && auth.password === PASSWORD) callback(null, { user: USER });
      else callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom === false ? undefined : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          user: session.user,
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, logins, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The text of a message with quoted-printable soft breaks and escapes decoded. */
function decoded(raw: string): string {
  return raw
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

function email(port: number, overrides: Record<string, unknown> = {}) {
  return {
    KIND: "EmailChannel",
    host: "127.0.0.1",
    port,
    tls: { reject_unauthorized: false },
    username: USER,
    password: PASSWORD,
    from: "mlbatch <mlbatch@example.com>",
    to: ["ml-team@example.com", "oncall@example.com"],
    backoff_seconds: 0.01,
    ...overrides,
  };
}

describe("EmailChannel", () => {
  it("given an SMTP server with STARTTLS and a login, when a job finishes, then an email with the facts arrives over TLS", async () => {
    const smtp = await smtpServer();
    close = smtp.close;
    const { alerts, logs, stop } = await alertsService({ app_name: "Bikes", channels: [email(smtp.port)] });
    await alerts.notify(FINISHED);
    await stop();
    expect(logLines(logs).filter((l) => l.level >= 40)).toEqual([]);
    expect(smtp.mails).toHaveLength(1);
    const [mail] = smtp.mails;
    expect(mail).toMatchObject({
      from: "mlbatch@example.com",
      to: ["ml-team@example.com", "oncall@example.com"],
      secure: true,
      user: USER,
    });
    const text = decoded(mail!.raw);
    expect(text).toContain("Subject: [Bikes] Inference Job Finished: Outputs Shape: (3476, 2)");
    expect(text).toContain("X-Mlbatch-Event: finished");
    for (const line of [
      "[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)",
      "Model: bikes v2 (alias Champion)",
      "Outputs shape: (3476, 2)",
      "Rows: 3476 read, 3476 written, 0 rejected",
      "Outputs: outputs/predictions_test.parquet",
      "Duration: 0.9 s",
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toContain("Content-Type: text/html");
  });

  it("given a failed job and a subject prefix, when notified, then the email carries the step, code and message", async () => {
    const smtp = await smtpServer();
    close = smtp.close;
    const { alerts, stop } = await alertsService({
      channels: [email(smtp.port, { subject_prefix: "[prod]", on: ["failure"] })],
    });
    await alerts.notify(FINISHED);
    await alerts.notify(FAILED);
    await stop();
    expect(smtp.mails).toHaveLength(1);
    const text = decoded(smtp.mails[0]!.raw);
    expect(text).toContain("Subject: [prod] Inference Job Failed: [E_READ]");
    expect(text).toContain("Failed step: read");
    expect(text).toContain("Error code: E_READ");
    expect(text).toContain(FAILED.error!.message);
  });

  it("given certificate checks on (the default) and a self-signed server, when notified, then it fails once, unretried, with a warning", async () => {
    const smtp = await smtpServer();
    close = smtp.close;
    const { tls: _, ...strict } = email(smtp.port);
    const { alerts, logs, stop } = await alertsService({ channels: [strict] });
    await alerts.notify(FINISHED);
    await stop();
    expect(smtp.mails).toHaveLength(0);
    const warnings = logLines(logs).filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(
      /EmailChannel\(127\.0\.0\.1:\d+\) did not deliver .* after 1 attempt\(s\): .*certificate/,
    );
  });

  it("given a wrong password, when notified, then the refused login is not retried and no log contains the password", async () => {
    const smtp = await smtpServer();
    close = smtp.close;
    const wrong = "wrong-pa55word-Zx9";
    const { alerts, logs, console, stop } = await alertsService({
      channels: [{ KIND: "ConsoleChannel" }, email(smtp.port, { password: wrong })],
    });
    await alerts.notify(FINISHED);
    await stop();
    expect(smtp.logins).toEqual([`${USER}:${wrong}`]);
    const warnings = logLines(logs).filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain("after 1 attempt(s): Invalid login");
    expect(logs.text + console.text).not.toContain(wrong);
  });

  it("given an unreachable server and two attempts, when notified, then both are made and a warning is logged", async () => {
    const smtp = await smtpServer();
    const port = smtp.port;
    await smtp.close();
    const { alerts, logs, stop } = await alertsService({ channels: [email(port, { max_attempts: 2 })] });
    await alerts.notify(FINISHED);
    await stop();
    expect(logLines(logs).filter((l) => l.level === 40)[0]!.msg).toMatch(
      /after 2 attempt\(s\): .*ECONNREFUSED/,
    );
  });

  it("given a username without password, when the config is parsed, then it is refused", () => {
    const result = AlertsServiceConfig.safeParse({ channels: [{ ...email(25), password: undefined }] });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({
      path: ["channels", 0, "password"],
      message: "username and password go together: set both or neither",
    });
  });
});
