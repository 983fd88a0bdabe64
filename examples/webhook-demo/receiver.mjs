#!/usr/bin/env node
// A tiny webhook receiver for trying mlbatch's WebhookChannel (plain Node, no dependencies).
// It listens on 127.0.0.1, checks the X-Mlbatch-Signature HMAC when MLBATCH_WEBHOOK_SECRET is set,
// answers 200 (401 for a bad signature) and prints every alert it receives.
//
//   node examples/webhook-demo/receiver.mjs [--port 8787] [--fail-first N] [--json]
//
// --fail-first N  answer 500 to the first N requests (to watch mlbatch retry)
// --json          print one JSON object per line: {"listening": url} first, then one per request
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    "fail-first": { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  },
});
const secret = process.env.MLBATCH_WEBHOOK_SECRET;
let failures = Number(values["fail-first"]);

/** "valid", "invalid", "missing", or "unchecked" when no secret is set. */
function checkSignature(rawBody, header) {
  if (!secret) return "unchecked";
  if (typeof header !== "string") return "missing";
  const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`);
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given) ? "valid" : "invalid";
}

function print(record, text) {
  process.stdout.write(values.json ? `${JSON.stringify(record)}\n` : `${text}\n`);
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const raw = Buffer.concat(chunks); // verify the bytes as received, before any parsing
    const delivery = req.headers["x-mlbatch-delivery"];
    if (failures > 0) {
      failures--;
      res.writeHead(500, { "Content-Type": "text/plain" }).end("failing on purpose (--fail-first)\n");
      print({ status: 500, delivery }, `<- answered 500 on purpose to delivery ${delivery}`);
      return;
    }
    const signature = checkSignature(raw, req.headers["x-mlbatch-signature"]);
    let payload;
    try {
      payload = JSON.parse(raw.toString("utf8"));
    } catch {
      res.writeHead(400, { "Content-Type": "text/plain" }).end("expected a JSON body\n");
      return;
    }
    const status = signature === "invalid" || signature === "missing" ? 401 : 200;
    res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify({ ok: status === 200 }));
    print(
      { status, signature, delivery, payload },
      `<- ${payload.event} alert from ${payload.app_name} (signature: ${signature}, answered ${status})\n` +
        JSON.stringify(payload, null, 2),
    );
  });
});

server.listen(Number(values.port), "127.0.0.1", () => {
  const url = `http://127.0.0.1:${server.address().port}/`;
  print({ listening: url }, `listening on ${url} (Ctrl-C to stop)`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
