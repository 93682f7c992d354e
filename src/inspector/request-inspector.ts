import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import type { FetchTarget, TargetTap, WebSocketTap } from "../client/target-tap.ts";
import type { TcpConnectionRecord } from "../client/tcp-forwarder.ts";
import { basePath, targetUrl } from "../client/forwarder.ts";
import { pathStart } from "../http/url-parts.ts";
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

/**
 * What the visitor asked for: the path and query of a target URL without
 * the target's base, so that a replay, put under the base again by
 * targetUrl(), goes to exactly the path the original went to.
 */
function visitorPath(url: string, target: URL): string {
  const slash = pathStart(url);
  const path = slash < 0 ? "/" : url.slice(slash);
  const base = basePath(target);
  return base && path.startsWith(`${base}/`) ? path.slice(base.length) : path;
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
    return (request) => this.#send(tunnel, fetchTarget, request, visitorPath(request.url, target()));
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

  tcpConnection(tunnel: string, connection: TcpConnectionRecord): void {
    const record = this.store.add({
      tunnel,
      time: connection.startedAt,
      method: "TCP",
      path: connection.visitor,
      requestHeaders: [],
      status: 200,
      responseHeaders: [],
      tcp: {
        visitor: connection.visitor,
        get bytesIn() {
          return connection.bytesIn;
        },
        get bytesOut() {
          return connection.bytesOut;
        },
        get closed() {
          return connection.endedAt !== undefined;
        },
      },
    });
    record.requestBody.done = true;
    record.responseBody.done = true;
    // The counts are read live; the page hears of them this often, and once at the end.
    const timer = setInterval(() => {
      if (connection.endedAt === undefined) return this.store.updated(record);
      clearInterval(timer);
      record.durationMs = connection.endedAt - connection.startedAt;
      if (connection.error) record.error = connection.error;
      this.store.updated(record);
    }, WEBSOCKET_UPDATE_MS);
    (timer as { unref?: () => void }).unref?.();
  }

  /** Sends a recorded request again to its tunnel's target, with `changes`; resolves with the replay's record once its response has ended. */
  async replay(id: number, changes: ReplayChanges = {}): Promise<CapturedRequest> {
    const original = this.store.get(id);
    if (!original) throw new ReplayRefused(404, `No request ${id} (cleared, or dropped past the limits)`);
    if (original.webSocket) throw new ReplayRefused(400, "A WebSocket cannot be replayed");
    if (original.tcp) throw new ReplayRefused(400, "A TCP connection cannot be replayed");
    const tunnel = this.#tunnels.get(original.tunnel);
    if (!tunnel) throw new ReplayRefused(404, `No tunnel ${original.tunnel} in this client`);
    let body: Uint8Array | undefined;
    if (changes.body !== undefined) {
      body = new TextEncoder().encode(changes.body);
    } else {
      if (!original.requestBody.done || original.requestBody.failed) {
        throw new ReplayRefused(409, `The request body ${original.requestBody.done ? "did not arrive whole" : "is still arriving"} (${original.requestBody.size} bytes so far): replay it with a body of your own`);
      }
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
      let record: CapturedRequest | undefined;
      try {
        const response = await this.#send(original.tunnel, tunnel.fetchTarget, {
          url: targetUrl(tunnel.target(), path),
          method,
          headers,
          body: body && body.byteLength > 0 ? new Response(body as Uint8Array<ArrayBuffer>).body : null,
          signal: abort.signal,
        }, path, original.id);
        record = (response as CapturedExchange).record;
        // Read to the end: the replay's record is complete once its body is.
        if (response.body) for await (const _ of response.body);
      } catch (err) {
        // Unreachable target, or a body that failed midway: the record says so.
        record ??= (err as Error & { record?: CapturedRequest }).record;
        if (!record) throw err;
      }
      return record;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Records one exchange and passes it on; the error of a failed one carries its record. */
  #send(tunnel: string, fetchTarget: FetchTarget, request: TargetRequest, path: string, replayOf?: number): Promise<TargetResponse> {
    const record = this.store.add({ tunnel, time: Date.now(), method: request.method, path, requestHeaders: request.headers, replayOf });
    const exchange = new CapturedExchange(record, this.store);
    let body = request.body;
    if (body) {
      body = tapBody(body, record.requestBody, (error) => {
        record.requestBody.done = true;
        record.requestBody.failed = error !== undefined;
      });
    }
    else record.requestBody.done = true;
    // One promise per request: this runs on every request through the tunnel.
    return fetchTarget(body === request.body ? request : { ...request, body }).then(
      (response) => exchange.answered(response),
      (err: Error) => {
        // A target that failed may never have read the body (Bun's fetch to a refused port does not): it will not arrive now.
        if (!record.requestBody.done) {
          record.requestBody.done = true;
          record.requestBody.failed = true;
        }
        exchange.finish(err);
        throw Object.assign(err, { record });
      },
    );
  }
}

/**
 * One recorded exchange between its request and the end of its response:
 * the target's response as the forwarder sees it, each body byte noted as
 * it passes (a class, so the per-request objects stay plain and few).
 */
class CapturedExchange implements TargetResponse {
  readonly record: CapturedRequest;
  readonly #store: CaptureStore;
  readonly #started = performance.now();
  #response: TargetResponse | undefined;
  #tapped: ReadableStream<Uint8Array> | null | undefined;
  status = 0;
  headers: HeaderList = [];

  constructor(record: CapturedRequest, store: CaptureStore) {
    this.record = record;
    this.#store = store;
  }

  answered(response: TargetResponse): TargetResponse {
    this.#response = response;
    this.status = this.record.status = response.status;
    this.headers = response.headers;
    this.record.responseHeaders = response.headers;
    this.#store.updated(this.record);
    return this;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#tapped === undefined) {
      const source = this.#response!.body;
      this.#tapped = source === null ? null : tapBody(source, this.record.responseBody, (error) => this.finish(error));
      if (source === null) this.finish();
    }
    return this.#tapped;
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#response!.bytes().then((bytes) => {
      this.record.responseBody.add(bytes);
      this.finish();
      return bytes;
    }, (err: Error) => {
      this.finish(err);
      throw err;
    });
  }

  finish(error?: Error): void {
    const record = this.record;
    if (record.durationMs !== undefined) return;
    record.durationMs = performance.now() - this.#started;
    record.responseBody.done = true;
    if (error && !record.error) record.error = error.message;
    this.#store.updated(record);
  }
}
