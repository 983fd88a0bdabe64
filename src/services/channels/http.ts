import { readBody, sendRequest } from "../../http/request.js";
import { describeError, permanentFailure } from "./delivery.js";

/** How much of a response body is kept for error messages. */
const MAX_RESPONSE_CHARS = 300;

/**
 * POSTs a body and succeeds on a 2xx answer. One connection per request, closed after it, so that no
 * socket keeps the process alive once the job is done; redirects are not followed.
 *
 * @param url - http or https URL
 * @param body - the raw body (what an HMAC signs)
 * @param headers - request headers (Content-Length is set here)
 * @param signal - aborts the request (the delivery timeout)
 * @throws Error for network errors, timeouts, 408, 429 and 5xx answers (retryable); a non-retryable error
 * for other answers
 */
export async function postBody(
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal,
): Promise<void> {
  let answer: Promise<{ status: number; text: string }>;
  try {
    answer = sendRequest(
      new URL(url),
      { method: "POST", headers, body: Buffer.from(body, "utf8"), signal },
      async (res) => ({
        status: res.statusCode ?? 0,
        text: (await readBody(res, MAX_RESPONSE_CHARS * 4)).toString("utf8"),
      }),
    );
  } catch (error) {
    // Thrown before sending, e.g. a header value with a line break: retrying cannot help.
    throw permanentFailure(`invalid request: ${describeError(error)}`);
  }
  const { status, text } = await answer;
  if (status >= 200 && status < 300) return;
  const detail = text.trim().slice(0, MAX_RESPONSE_CHARS).replace(/\s+/g, " ");
  const message = `HTTP ${status}${detail ? ` (${detail})` : ""}`;
  if (status === 408 || status === 429 || status >= 500) throw new Error(message);
  throw permanentFailure(
    status >= 300 && status < 400 ? `${message}: redirects are not followed; use the final URL` : message,
  );
}
