import type { TargetRequest, TargetResponse } from "../client/client-runtime.ts";
import type { FetchTarget, TargetTap, WebSocketTap } from "../client/target-tap.ts";
import { targetUrl } from "../client/forwarder.ts";
import { type HeaderList, requestHeadProblem } from "../protocol/head.ts";
import { type CapturedBody, type CapturedRequest, type CaptureLimits, CaptureStore } from "./capture-store.ts";

/** How often a WebSocket's message counts are published, at most. */
const WEBSOCKET_UPDATE_MS = 250;
/** How long a replay may take, head and body. */
const REPLAY_TIMEOUT_MS = 30_000;

/** What may be changed in a replay. */
export interface ReplayChanges {
  method?: string;
  path?: string;
  headers?: HeaderList;
  /** The new body as text (sent as UTF-8). */
  body?: string;
}

/** A replay that cannot be made, and the status that says so. */
export class ReplayRefused extends Error {
  constructor(readonly status: 400 | 404 | 409, message: string) {
    super(message);
  }
}

/**
 * Passes a body on as it is read, noting each piece in `capture`: pulled
 * only when the reader pulls (nothing is read ahead or held back).
 */
function tapBody(source: ReadableStream<Uint8Array>, capture: CapturedBody, onEnd: (error?: Error) => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          onEnd();
          controller.close();
          return;
        }
        capture.add(value);
        controller.enqueue(value);
      } catch (err) {
        onEnd(err as Error);
        controller.error(err);
      }
    },
    cancel(reason) {
      onEnd(new Error("Body cancelled"));
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** The path and query of a target URL (what the visitor asked for, under the target's base). */
function pathOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash < 0 ? "/" : url.slice(slash);
}

/**
 * The request inspector's core: records every request of every tunnel into
 * a bounded {@linkcode CaptureStore} as it passes, and replays a recorded
 * request against the tunnel's target (recorded too, marked as a replay).
 */
export class RequestInspector implements TargetTap {
  readonly store: CaptureStore;
  readonly #tunnels = new Map<string, { target: () => URL; fetchTarget: FetchTarget }>();

  constructor(limits: Partial<CaptureLimits> = {}) {
    this.store = new CaptureStore(limits);
  }

  wrapFetch(tunnel: string, target: () => URL, fetchTarget: FetchTarget): FetchTarget {
    this.#tunnels.set(tunnel, { target, fetchTarget });
    return (request) => this.#send(tunnel, fetchTarget, request, pathOf(request.url)).then(({ response }) => response);
  }

  webSocket(tunnel: string, request: { method: string; path: string; headers: HeaderList; responseHeaders: HeaderList }): WebSocketTap {
    const started = performance.now();
    const record = this.store.add({
      tunnel,
      time: Date.now(),
      method: request.method,
      path: request.path,
      requestHeaders: request.headers,
      status: 101,
      responseHeaders: request.responseHeaders,
      webSocket: { toTarget: 0, fromTarget: 0, closed: false },
    });
    record.requestBody.done = true;
    record.responseBody.done = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const publish = () => {
      timer = undefined;
      this.store.updated(record);
    };
    return {
      message: (toTarget) => {
        if (toTarget) record.webSocket!.toTarget++;
        else record.webSocket!.fromTarget++;
        timer ??= setTimeout(publish, WEBSOCKET_UPDATE_MS);
      },
      closed: (code) => {
        if (record.webSocket!.closed) return;
        clearTimeout(timer);
        record.webSocket!.closed = true;
        record.webSocket!.closeCode = code;
        record.durationMs = performance.now() - started;
        publish();
      },
    };
  }

  /** Sends a recorded request again to its tunnel's target, with `changes`; resolves with the replay's record once its response has ended. */
  async replay(id: number, changes: ReplayChanges = {}): Promise<CapturedRequest> {
    const original = this.store.get(id);
    if (!original) throw new ReplayRefused(404, `No request ${id} (cleared, or dropped past the limits)`);
    if (original.webSocket) throw new ReplayRefused(400, "A WebSocket cannot be replayed");
    const tunnel = this.#tunnels.get(original.tunnel);
    if (!tunnel) throw new ReplayRefused(404, `No tunnel ${original.tunnel} in this client`);
    let body: Uint8Array | undefined;
    if (changes.body !== undefined) {
      body = new TextEncoder().encode(changes.body);
    } else {
      if (original.requestBody.truncated) {
        throw new ReplayRefused(409, `The request body (${original.requestBody.size} bytes) was larger than the ${this.store.limits.maxBodyBytesEach} bytes kept: replay it with a body of your own`);
      }
      body = original.requestBody.size > 0 ? original.requestBody.bytes().slice() : undefined;
    }
    const method = changes.method ?? original.method;
    const path = changes.path ?? original.path;
    // Framing is made anew for the body actually sent.
    const headers: HeaderList = (changes.headers ?? original.requestHeaders).filter(([name]) => {
      const lower = name.toLowerCase();
      return lower !== "content-length" && lower !== "transfer-encoding" && lower !== "host";
    });
    if (body && body.byteLength > 0) headers.push(["content-length", String(body.byteLength)]);
    const problem = requestHeadProblem({ method, target: path, headers });
    if (problem) throw new ReplayRefused(400, `Cannot send this request: ${problem}`);
    if (body && body.byteLength > 0 && /^(GET|HEAD)$/i.test(method)) throw new ReplayRefused(400, `A ${method} request carries no body here`);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REPLAY_TIMEOUT_MS);
    try {
      const { record, response } = await this.#send(original.tunnel, tunnel.fetchTarget, {
        url: targetUrl(tunnel.target(), path),
        method,
        headers,
        body: body && body.byteLength > 0 ? new Response(body as Uint8Array<ArrayBuffer>).body : null,
        signal: abort.signal,
      }, path, original.id).catch((err: Error & { record?: CapturedRequest }) => {
        if (err.record) return { record: err.record, response: undefined };
        throw err;
      });
      // Read to the end: the replay's record is complete once its body is.
      if (response?.body) for await (const _ of response.body);
      return record;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Records one exchange and passes it on; the error of a failed one carries its record. */
  async #send(tunnel: string, fetchTarget: FetchTarget, request: TargetRequest, path: string, replayOf?: number): Promise<{ record: CapturedRequest; response: TargetResponse }> {
    const started = performance.now();
    const record = this.store.add({ tunnel, time: Date.now(), method: request.method, path, requestHeaders: request.headers, replayOf });
    const finish = (error?: Error) => {
      if (record.durationMs !== undefined) return;
      record.durationMs = performance.now() - started;
      record.responseBody.done = true;
      if (error && !record.error) record.error = error.message;
      this.store.updated(record);
    };
    let body = request.body;
    if (body) body = tapBody(body, record.requestBody, () => record.requestBody.done = true);
    else record.requestBody.done = true;
    let response: TargetResponse;
    try {
      response = await fetchTarget(body === request.body ? request : { ...request, body });
    } catch (err) {
      finish(err as Error);
      throw Object.assign(err as Error, { record });
    }
    record.status = response.status;
    record.responseHeaders = response.headers;
    this.store.updated(record);
    let tapped: ReadableStream<Uint8Array> | null | undefined;
    return {
      record,
      response: {
        status: response.status,
        headers: response.headers,
        get body() {
          if (tapped === undefined) {
            const source = response.body;
            tapped = source === null ? null : tapBody(source, record.responseBody, finish);
            if (source === null) finish();
          }
          return tapped;
        },
        bytes: async () => {
          try {
            const bytes = await response.bytes();
            record.responseBody.add(bytes);
            finish();
            return bytes;
          } catch (err) {
            finish(err as Error);
            throw err;
          }
        },
      },
    };
  }
}
