import { joinBytes } from "../protocol/bytes.ts";

/** Body bytes read ahead of the reader before the connection stops reading. */
export const READ_AHEAD_BYTES = 64 * 1024;

/** What a body asks of its connection. */
export interface BodySource {
  pause(): void;
  resume(): void;
  /** The reader gave up before the end: the connection cannot be reused. */
  cancel(): void;
}

/**
 * One response's body as it arrives: read whole (`bytes`) or as a stream
 * (`stream`), whichever the reader asks for first. Bytes that arrive before
 * the reader asks wait here; past READ_AHEAD_BYTES unread, the source is
 * paused. Bound to one response, so a connection reused for the next
 * request never mixes the two.
 */
export class ResponseBody {
  #source: BodySource;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #ended = false;
  #failure: Error | undefined;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #stream: ReadableStream<Uint8Array> | undefined;
  #whole: { resolve: (bytes: Uint8Array<ArrayBuffer>) => void; reject: (error: Error) => void } | undefined;

  constructor(source: BodySource) {
    this.#source = source;
  }

  get ended(): boolean {
    return this.#ended || this.#failure !== undefined;
  }

  /** Bytes from the connection (kept as given: the socket never reuses them). */
  push(bytes: Uint8Array): void {
    const controller = this.#controller;
    if (controller) {
      controller.enqueue(bytes);
      if ((controller.desiredSize ?? 0) <= 0) this.#source.pause();
      return;
    }
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.byteLength;
    if (this.#pendingBytes > READ_AHEAD_BYTES && !this.#whole) this.#source.pause();
  }

  end(): void {
    if (this.ended) return;
    this.#ended = true;
    if (this.#controller) {
      this.#controller.close();
      this.#controller = undefined;
    } else if (this.#whole) {
      this.#whole.resolve(this.#joined());
      this.#whole = undefined;
    }
  }

  fail(error: Error): void {
    if (this.ended) return;
    this.#failure = error;
    this.#pending = [];
    this.#controller?.error(error);
    this.#controller = undefined;
    this.#whole?.reject(error);
    this.#whole = undefined;
  }

  /** The whole body, once it has arrived. */
  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#stream) return new Response(this.#stream).arrayBuffer().then((buffer) => new Uint8Array(buffer));
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve(this.#joined());
    return new Promise((resolve, reject) => {
      this.#whole = { resolve, reject };
      this.#source.resume();
    });
  }

  /** The body as a stream (the same one on every call). */
  stream(): ReadableStream<Uint8Array> {
    return this.#stream ??= new ReadableStream<Uint8Array>({
      start: (controller) => {
        for (const piece of this.#pending) controller.enqueue(piece);
        this.#pending = [];
        this.#pendingBytes = 0;
        if (this.#failure) controller.error(this.#failure);
        else if (this.#ended) controller.close();
        else this.#controller = controller;
      },
      pull: () => {
        if (!this.ended) this.#source.resume();
      },
      cancel: () => {
        this.#controller = undefined;
        if (!this.ended) {
          this.#failure = new Error("Response body cancelled");
          this.#source.cancel();
        }
      },
    }, { highWaterMark: READ_AHEAD_BYTES, size: (chunk) => chunk.byteLength });
  }

  #joined(): Uint8Array<ArrayBuffer> {
    const pending = this.#pending;
    this.#pending = [];
    return pending.length === 1 ? pending[0] as Uint8Array<ArrayBuffer> : joinBytes(pending, this.#pendingBytes);
  }
}
