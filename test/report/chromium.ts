/**
 * Headless Chromium driven over the DevTools protocol through a pipe (`--remote-debugging-pipe`: JSON
 * messages ended by NUL on file descriptors 3 and 4), with no package: a page opened offline, its console
 * messages and exceptions collected, its text read, a screenshot taken and decoded (PNG, node:zlib).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { inflateSync } from "node:zlib";

/** Chromium's path: MLBATCH_TEST_CHROMIUM, else Debian's, installed with apt-get when missing (as root). */
export function chromiumPath(): string {
  const named = process.env.MLBATCH_TEST_CHROMIUM;
  if (named !== undefined) return named;
  const debian = "/usr/bin/chromium";
  if (!existsSync(debian) && process.getuid?.() === 0) {
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], {
      stdio: "ignore",
    });
  }
  if (!existsSync(debian)) {
    throw new Error(`no Chromium at ${debian}: apt-get install chromium, or set MLBATCH_TEST_CHROMIUM`);
  }
  return debian;
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

/** A page's console and errors, as the protocol reports them. */
export interface PageLog {
  readonly console: { type: string; text: string }[];
  readonly exceptions: string[];
  /** Log entries (e.g. a blocked or failed request), with their level. */
  readonly entries: { level: string; text: string }[];
  readonly requests: string[];
}

/** One headless Chromium, its network off. */
export class Chromium {
  private next = 1;
  private buffer = "";
  private readonly waiting = new Map<number, (m: Message) => void>();
  private readonly listeners: ((m: Message) => void)[] = [];

  private constructor(
    private readonly process: ChildProcess,
    private readonly profile: string,
  ) {
    const output = process.stdio[4] as Readable;
    output.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("utf8");
      for (let end = this.buffer.indexOf("\0"); end >= 0; end = this.buffer.indexOf("\0")) {
        const message = JSON.parse(this.buffer.slice(0, end)) as Message;
        this.buffer = this.buffer.slice(end + 1);
        if (message.id !== undefined) this.waiting.get(message.id)?.(message);
        else for (const listen of this.listeners) listen(message);
      }
    });
  }

  static launch(): Chromium {
    const profile = mkdtempSync(join(tmpdir(), "mlbatch-chromium-"));
    const child = spawn(
      chromiumPath(),
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--remote-debugging-pipe",
        `--user-data-dir=${profile}`,
        "--no-first-run",
        // No network: a page that fetched anything would log a failed request.
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "about:blank",
      ],
      // Its own process group: Chromium's helpers (zygote, crashpad) go with it when it is stopped.
      { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"], detached: true },
    );
    return new Chromium(child, profile);
  }

  /** Sends a command (to a page's session when given) and returns its result. */
  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.next++;
    const message = { id, method, params, ...(sessionId === undefined ? {} : { sessionId }) };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (m) => {
        this.waiting.delete(id);
        if (m.error !== undefined) reject(new Error(`${method}: ${m.error.message}`));
        else resolve(m.result ?? {});
      });
      (this.process.stdio[3] as Writable).write(`${JSON.stringify(message)}\0`);
    });
  }

  /**
   * Opens a page at `url` in a window of the given size, waits for its load, and returns its session and
   * what it logged.
   */
  async open(url: string, width: number, height: number): Promise<{ session: string; log: PageLog }> {
    const { targetId } = (await this.send("Target.createTarget", { url: "about:blank" })) as {
      targetId: string;
    };
    const { sessionId } = (await this.send("Target.attachToTarget", { targetId, flatten: true })) as {
      sessionId: string;
    };
    const log: PageLog = { console: [], exceptions: [], entries: [], requests: [] };
    let loaded: () => void = () => undefined;
    const load = new Promise<void>((resolve) => {
      loaded = resolve;
    });
    this.listeners.push((m) => {
      if (m.sessionId !== sessionId) return;
      const p = m.params ?? {};
      if (m.method === "Runtime.consoleAPICalled") {
        const args = (p.args as { value?: unknown; description?: string }[]) ?? [];
        log.console.push({
          type: String(p.type),
          text: args.map((a) => String(a.value ?? a.description)).join(" "),
        });
      } else if (m.method === "Runtime.exceptionThrown") {
        log.exceptions.push(JSON.stringify(p.exceptionDetails));
      } else if (m.method === "Log.entryAdded") {
        const entry = p.entry as { level: string; text: string };
        log.entries.push({ level: entry.level, text: entry.text });
      } else if (m.method === "Network.requestWillBeSent") {
        log.requests.push(String((p.request as { url: string }).url));
      } else if (m.method === "Page.loadEventFired") loaded();
    });
    for (const domain of ["Page", "Runtime", "Log", "Network"])
      await this.send(`${domain}.enable`, {}, sessionId);
    await this.send(
      "Emulation.setDeviceMetricsOverride",
      { width, height, deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    await this.send("Page.navigate", { url }, sessionId);
    await load;
    return { session: sessionId, log };
  }

  /** Evaluates an expression in the page and returns its value (JSON-able). */
  async evaluate<T>(session: string, expression: string): Promise<T> {
    const { result, exceptionDetails } = (await this.send(
      "Runtime.evaluate",
      { expression, returnByValue: true },
      session,
    )) as { result: { value: T }; exceptionDetails?: unknown };
    if (exceptionDetails !== undefined)
      throw new Error(`evaluate failed: ${JSON.stringify(exceptionDetails)}`);
    return result.value;
  }

  /** A PNG screenshot of the whole page, decoded. */
  async screenshot(session: string): Promise<Image> {
    const { data } = (await this.send(
      "Page.captureScreenshot",
      { format: "png", captureBeyondViewport: true },
      session,
    )) as {
      data: string;
    };
    return decodePng(Buffer.from(data, "base64"));
  }

  /**
   * Stops Chromium and every process of its group (the helpers it started write into the profile until
   * they exit: removing the profile before that failed in CI with ENOTEMPTY), then removes its profile.
   */
  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.process.once("exit", resolve));
    const group = this.process.pid;
    const signal = (name: NodeJS.Signals | 0) => {
      try {
        if (group !== undefined) process.kill(-group, name);
        return true;
      } catch {
        return false; // ESRCH: no process of the group is left
      }
    };
    if (this.process.exitCode === null) this.process.kill("SIGKILL");
    await exited;
    signal("SIGKILL");
    for (let i = 0; i < 100 && signal(0); i++) await new Promise((r) => setTimeout(r, 50));
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

/** An RGBA image, 8 bits per channel. */
export interface Image {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes). */
export function decodePng(png: Buffer): Image {
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 4;
  const data: Buffer[] = [];
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[12] !== 0) throw new Error("only 8-bit non-interlaced PNG");
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : 0;
      if (channels === 0) throw new Error(`PNG colour type ${body[9]} not handled`);
    } else if (type === "IDAT") data.push(body);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter]!;
      pixels[y * stride + x] = (line[x]! + predictor) & 0xff;
    }
  }
  if (channels === 4) return { width, height, rgba: pixels };
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(pixels.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  return { width, height, rgba };
}
