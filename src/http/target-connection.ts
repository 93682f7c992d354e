import type { TargetResponse } from "../runtime/client-runtime.ts";
import { BodyKind, MalformedResponse, type ParsedHead, ResponseParser } from "./response-parser.ts";
import { ResponseBody } from "./response-body.ts";
import { chunkBytes, LAST_CHUNK } from "./request-head.ts";
import type { TargetSocket } from "./target-socket.ts";

/** One request on the connection, from its head going out to its response's last byte. */
export interface Exchange {
  head: Uint8Array;
  body: ReadableStream<Uint8Array> | null;
  /** The body's declared Content-Length (undefined: sent chunked). */
  length: number | undefined;
  headOnly: boolean;
  signal: AbortSignal;
}

/** The connection failed before the target said anything: a retry on a fresh connection is safe for a bodiless request. */
export class StaleConnection extends Error {
  override name = "StaleConnection";
}

/**
 * One keep-alive HTTP/1.1 connection to the target, carrying one exchange
 * at a time. It goes back to its pool once the response has been read and
 * the request body sent, and only if both sides said it may be kept.
 */
export class TargetConnection {
  readonly #socket: TargetSocket;
  readonly #parser: ResponseParser;
  /** Told once per exchange when it is over, and whether the connection may carry another. */
  readonly #onFree: (connection: TargetConnection, reusable: boolean) => void;
  #closed = false;
  /** Exchanges carried so far. */
  uses = 0;
  idleSince = 0;

  // The exchange in progress.
  #active = false;
  #uploadDone = true;
  #responseDone = true;
  #keepAlive = false;
  #answered: { resolve: (response: TargetResponse) => void; reject: (error: Error) => void } | undefined;
  #body: ResponseBody | undefined;
  #drained: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(socket: TargetSocket, onFree: (connection: TargetConnection, reusable: boolean) => void) {
    this.#socket = socket;
    this.#onFree = onFree;
    this.#parser = new ResponseParser({
      onHead: (head) => this.#head(head),
      onBody: (bytes) => this.#body?.push(bytes),
      onEnd: () => this.#end(),
    });
    socket.onData = (bytes) => this.#data(bytes);
    socket.onDrain = () => {
      const drained = this.#drained;
      this.#drained = undefined;
      drained?.();
    };
    socket.onClose = (error) => this.#socketClosed(error);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one request; resolves with the response once its head has arrived. */
  send(exchange: Exchange): Promise<TargetResponse> {
    this.uses++;
    this.#active = true;
    this.#uploadDone = exchange.body === null;
    this.#responseDone = false;
    this.#body = undefined;
    this.#parser.reset(exchange.headOnly);
    const answered = new Promise<TargetResponse>((resolve, reject) => this.#answered = { resolve, reject });
    if (exchange.signal.aborted) {
      this.#fail(new Error("Cancelled"));
      return answered;
    }
    const abort = () => this.#fail(new Error("Cancelled"));
    exchange.signal.addEventListener("abort", abort);
    this.#unsubscribe = () => exchange.signal.removeEventListener("abort", abort);
    this.#socket.write(exchange.head);
    if (exchange.body) this.#upload(exchange.body, exchange.length);
    return answered;
  }

  /** Closes the connection (idle, or given up on). */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
  }

  async #upload(body: ReadableStream<Uint8Array>, length: number | undefined): Promise<void> {
    const reader = body.getReader();
    let sent = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.#closed || this.#responseDone) {
          reader.cancel().catch(() => {});
          return;
        }
        if (done) break;
        if (value.byteLength === 0) continue;
        sent += value.byteLength;
        if (length !== undefined && sent > length) throw new Error(`Request body longer than its Content-Length of ${length}`);
        if (!this.#socket.write(length === undefined ? chunkBytes(value) : value)) {
          await new Promise<void>((resolve) => this.#drained = resolve);
        }
      }
      if (length !== undefined && sent !== length) throw new Error(`Request body of ${sent} bytes, its Content-Length is ${length}`);
      if (length === undefined) this.#socket.write(LAST_CHUNK);
      this.#uploadDone = true;
      if (this.#responseDone) this.#finish();
    } catch (err) {
      reader.cancel(err).catch(() => {});
      this.#fail(err as Error);
    }
  }

  #data(bytes: Uint8Array): void {
    if (!this.#active || this.#responseDone) {
      // Bytes no request asked for: this target cannot be trusted with another request.
      this.#fail(new MalformedResponse("Target sent bytes after its response"));
      return;
    }
    try {
      if (this.#parser.push(bytes) < bytes.length) throw new MalformedResponse("Target sent bytes after its response");
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  #head(head: ParsedHead): void {
    this.#keepAlive = head.keepAlive;
    const answered = this.#answered;
    this.#answered = undefined;
    if (head.body === BodyKind.None) {
      answered?.resolve({ status: head.status, headers: head.headers, body: null, bytes: () => Promise.resolve(new Uint8Array(0)) });
      return;
    }
    const body = this.#body = new ResponseBody({
      pause: () => this.#socket.pause(),
      resume: () => this.#socket.resume(),
      cancel: () => this.#fail(new Error("Response body cancelled")),
    });
    answered?.resolve({
      status: head.status,
      headers: head.headers,
      // Built on first use: a body read whole never pays for a stream.
      get body() {
        return body.stream();
      },
      bytes: () => body.bytes(),
    });
  }

  #end(): void {
    this.#responseDone = true;
    this.#body?.end();
    if (this.#uploadDone) this.#finish();
    else this.#fail(undefined); // answered before the upload ended: the connection cannot carry another request
  }

  /** The exchange is over on both sides: hand the connection back. */
  #finish(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#unsubscribe?.();
    this.#body = undefined;
    this.#socket.resume();
    this.idleSince = performance.now();
    this.#onFree(this, this.#keepAlive && !this.#closed);
  }

  /** Ends the exchange in error (or, with no error, after its response) and closes the connection. */
  #fail(error: Error | undefined): void {
    if (!this.#closed) {
      this.#closed = true; // before destroy, which may report the close at once
      this.#socket.destroy();
    }
    if (error && !this.#responseDone) {
      this.#responseDone = true;
      this.#answered?.reject(error);
      this.#answered = undefined;
      this.#body?.fail(error);
    }
    this.#body = undefined;
    this.#drained?.();
    this.#drained = undefined;
    if (this.#active) {
      this.#active = false;
      this.#unsubscribe?.();
    }
    this.#onFree(this, false);
  }

  #socketClosed(error: Error | undefined): void {
    if (this.#closed) return; // closed here, and already settled
    this.#closed = true;
    if (!this.#active) {
      this.#onFree(this, false);
      return;
    }
    const started = this.#parser.started;
    try {
      // A reset or a TLS failure is never the clean end of a body.
      if (error) throw new Error(`Connection to the target failed: ${error.message}`);
      this.#parser.close();
    } catch (err) {
      const reason = err as Error;
      this.#fail(!started && this.uses > 1 ? new StaleConnection(reason.message) : reason);
      return;
    }
    this.#fail(undefined);
  }
}
