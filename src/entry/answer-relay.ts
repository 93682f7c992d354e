import { MAX_PAYLOAD_BYTES } from "../protocol/constants.ts";
import { isBodyless } from "../protocol/end-to-end-headers.ts";
import { errorResponse } from "./error-response.ts";

/**
 * Bodies of known length up to this size are read whole before answering:
 * Bun keeps Content-Length only for such bodies, and a body cut short then
 * becomes a 502, not a short 200.
 */
export const SMALL_BODY_BYTES = MAX_PAYLOAD_BYTES;

/** An answer to relay to a visitor: a target's over a stream, or another entry's over HTTP. */
export interface AnswerSource {
  readonly status: number;
  /** The headers as the visitor gets them (already through answerHeaders). */
  readonly headers: Headers;
  /** No body comes, whatever the method and status say. */
  readonly noBody?: boolean;
  /** Reads the whole body. */
  readAll(): Promise<Uint8Array<ArrayBuffer>>;
  /** The body as a stream; `done` runs once, when it is read to its end, fails or is cancelled. */
  stream(done: () => void): ReadableStream<Uint8Array>;
  /** Drops the body unread. */
  discard(): void;
}

/** How a relay names where the answer came from in its errors, and answers a body that failed to arrive. */
export interface AnswerOrigin {
  /** As in `Bad gateway: ${who} sent 10 of 20 body bytes`: `session "x"`, `the entry holding session "x"`. */
  who: string;
  /** The visitor's answer when reading a small body failed. */
  failed(err: unknown): Response;
}

/**
 * The visitor's answer: no body, a small body read whole (its length
 * checked), or the body streamed as it comes. `done` is called once: before
 * returning a whole answer, or, for a streamed body, when the body is read
 * to its end (or fails, or the visitor cancels it).
 */
export async function relayAnswer(method: string, source: AnswerSource, origin: AnswerOrigin, done: () => void): Promise<Response> {
  const { status, headers } = source;
  if (source.noBody || isBodyless(method, status)) {
    source.discard();
    done();
    return new Response(null, { status, headers });
  }
  const length = Number(headers.get("content-length") ?? NaN);
  if (length >= 0 && length <= SMALL_BODY_BYTES) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await source.readAll();
    } catch (err) {
      return origin.failed(err);
    } finally {
      done();
    }
    if (bytes.byteLength !== length) return errorResponse(502, `Bad gateway: ${origin.who} sent ${bytes.byteLength} of ${length} body bytes`);
    return new Response(bytes, { status, headers });
  }
  return new Response(source.stream(done), { status, headers });
}
