import { Flag, FrameKind, MAX_PAYLOAD_BYTES, ResetCode } from "../protocol/constants.ts";
import { encodeCredit, encodeFrame, encodeReason } from "../protocol/frame.ts";
import { encodeHead, type RequestHead, type ResponseHead } from "../protocol/head.ts";
import type { FrameSink } from "./frame-sink.ts";
import { ProtocolError } from "../protocol/protocol-error.ts";
import { InboundBody } from "./inbound-body.ts";
import { SendWindow } from "./send-window.ts";
import { StreamResetError } from "./stream-reset-error.ts";
import { type StreamEvent, StreamState, transition } from "./stream-state.ts";

/** The reset message of a body whose source gave nothing for its idle time. */
export const BODY_IDLE_MESSAGE = "Request body idle";

/** What a stream needs from the mux that owns it. */
export interface StreamOwner {
  readonly writer: FrameSink;
  /** DATA payload bytes sent so far (the owner counts them). */
  bytesOut: number;
  /** Called once when the stream reaches Closed or Reset. */
  retire(stream: MuxStream): void;
}

/**
 * One request/response exchange on an uplink: the inbound body (what the peer
 * sends), the send window for the outbound body, and the lifecycle state.
 */
export class MuxStream {
  readonly id: number;
  #state: StreamState = StreamState.Open;
  #owner: StreamOwner;
  #inbound: InboundBody;
  #window: SendWindow;
  #resetError: StreamResetError | undefined;
  #head: PromiseWithResolvers<ResponseHead> | undefined;
  #headReceived = false;
  /**
   * Whether the peer's head announced a body (no EndStream flag). Fixed at the
   * head: by the time a handler looks, the whole body may have arrived.
   */
  peerSendsBody = false;
  /** Called when the stream is reset from either side or its uplink is lost. */
  onReset: ((err: StreamResetError) => void) | undefined;
  /** Called once when the reader of the inbound body is done with it (end, error or cancel). */
  onBodyDone: (() => void) | undefined;

  constructor(id: number, owner: StreamOwner, windows: { local: number; peer: number }) {
    this.id = id;
    this.#owner = owner;
    this.#window = new SendWindow(windows.peer);
    this.#inbound = new InboundBody({
      window: windows.local,
      onCredit: (bytes) => {
        if (this.#state === StreamState.Reset) return;
        owner.writer.send(encodeFrame(FrameKind.WindowUpdate, 0, id, encodeCredit(bytes)));
      },
      onCancel: () => this.reset(ResetCode.Cancel, "Reader went away"),
      onDone: () => this.onBodyDone?.(),
    });
  }

  get state(): StreamState {
    return this.#state;
  }

  /** The body the peer sends on this stream. */
  get body(): ReadableStream<Uint8Array> {
    return this.#inbound.readable;
  }

  /** Reads the whole inbound body (for bodies known to be small). */
  readAll(): Promise<Uint8Array> {
    return this.#inbound.readAll();
  }

  /** Times this stream's sender waited for window credit. */
  get stalls(): number {
    return this.#window.stalls;
  }

  /** The error that reset this stream, if it was reset. */
  get resetError(): StreamResetError | undefined {
    return this.#resetError;
  }

  /** The response head (entry side): resolves when it arrives, rejects on reset. */
  get responseHead(): Promise<ResponseHead> {
    if (!this.#head && this.#resetError) return Promise.reject(this.#resetError);
    this.#head ??= Promise.withResolvers<ResponseHead>();
    return this.#head.promise;
  }

  /** Sends a request head (entry) or response head (client); throws RangeError, sending nothing, when it exceeds one frame. */
  sendHead(kind: typeof FrameKind.RequestHead | typeof FrameKind.ResponseHead, head: RequestHead | ResponseHead, endStream: boolean): void {
    this.sendEncodedHead(kind, encodeHead(head), endStream);
  }

  /** Sends a head already encoded with `encodeHead`. */
  sendEncodedHead(kind: typeof FrameKind.RequestHead | typeof FrameKind.ResponseHead, payload: Uint8Array, endStream: boolean): void {
    const flags = endStream ? Flag.EndStream : 0;
    this.#owner.writer.send(encodeFrame(kind, flags, this.id, payload));
    if (endStream) this.#apply("send-end");
  }

  /**
   * Sends a whole small body in one DATA frame flagged EndStream, when it fits
   * one frame and the window allows; otherwise streams it. One frame instead
   * of two is what keeps small responses cheap.
   */
  sendWhole(bytes: Uint8Array<ArrayBuffer>): Promise<void> | void {
    if (this.#resetError) return;
    if (bytes.byteLength <= MAX_PAYLOAD_BYTES && bytes.byteLength <= this.#window.available) {
      this.#window.takeNow(bytes.byteLength);
      this.#owner.bytesOut += bytes.byteLength;
      this.#owner.writer.send(encodeFrame(FrameKind.Data, Flag.EndStream, this.id, bytes));
      this.#apply("send-end");
      return;
    }
    return this.sendBody(new Response(bytes).body!);
  }

  /**
   * Sends a body as DATA frames of at most 64 KiB within the send window,
   * then End. If the source fails, the stream is reset with `failCode`;
   * past `maxBytes` it is reset with TooLarge; if the source gives nothing
   * for `idleMs` it is reset with Timeout ({@linkcode BODY_IDLE_MESSAGE});
   * if the stream is reset, the source is cancelled.
   */
  async sendBody(
    source: ReadableStream<Uint8Array>,
    failCode: ResetCode = ResetCode.Cancel,
    maxBytes = Infinity,
    idleMs?: number,
  ): Promise<void> {
    const reader = source.getReader();
    let total = 0;
    let lastRead = Date.now();
    // One timer per body, not per chunk: it checks when the source last gave something.
    const idle = idleMs === undefined ? undefined : setInterval(() => {
      if (Date.now() - lastRead < idleMs) return;
      this.reset(ResetCode.Timeout, BODY_IDLE_MESSAGE);
      reader.cancel(this.#resetError).catch(() => {});
    }, Math.max(10, idleMs / 4));
    try {
      for (;;) {
        const { done, value } = await reader.read();
        lastRead = Date.now();
        if (this.#resetError) throw this.#resetError;
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
          this.reset(ResetCode.TooLarge, `Body over the limit of ${maxBytes} bytes`);
          throw this.#resetError;
        }
        await this.sendBytes(value);
      }
      if (this.#resetError) throw this.#resetError;
      this.sendEnd();
    } catch (err) {
      if (this.#resetError) {
        reader.cancel(this.#resetError).catch(() => {});
      } else {
        const message = err instanceof Error ? err.message : String(err);
        this.reset(failCode, `Body failed: ${message}`);
      }
    } finally {
      clearInterval(idle);
      reader.releaseLock();
    }
  }

  /**
   * Sends bytes of the body as DATA frames of at most 64 KiB within the send
   * window; resolves once they are queued. Callers keep their writes in order.
   * Rejects with the reset error once the stream is reset.
   */
  async sendBytes(value: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < value.byteLength) {
      if (this.#resetError) throw this.#resetError;
      const n = await this.#window.take(Math.min(MAX_PAYLOAD_BYTES, value.byteLength - offset));
      this.#owner.bytesOut += n;
      await this.#owner.writer.sendData(encodeFrame(FrameKind.Data, 0, this.id, value.subarray(offset, offset + n)));
      offset += n;
    }
  }

  /**
   * Sends bytes as one DATA frame at once when they fit one frame, the send
   * window and the writer's queue; returns false (nothing sent) otherwise, and
   * then the caller uses {@linkcode sendBytes}. Callers keep writes in order:
   * only when no sendBytes of theirs is pending.
   */
  trySendBytes(value: Uint8Array): boolean {
    const n = value.byteLength;
    if (this.#resetError || n > MAX_PAYLOAD_BYTES || n > this.#window.available || this.#owner.writer.queuedBytes > 0) return false;
    this.#window.takeNow(n);
    this.#owner.bytesOut += n;
    this.#owner.writer.send(encodeFrame(FrameKind.Data, 0, this.id, value));
    return true;
  }

  /** Half-closes our direction. */
  sendEnd(): void {
    if (this.#resetError) return;
    this.#owner.writer.send(encodeFrame(FrameKind.End, 0, this.id));
    this.#apply("send-end");
  }

  /** Aborts the stream: tells the peer, fails both halves locally. */
  reset(code: ResetCode, message: string): void {
    if (this.#state === StreamState.Reset || this.#state === StreamState.Closed) return;
    this.#owner.writer.send(encodeFrame(FrameKind.Reset, 0, this.id, encodeReason(code, message)));
    this.fail(new StreamResetError(code, message));
  }

  /** Ends the stream locally with an error, without telling the peer. */
  fail(err: StreamResetError): void {
    if (this.#state === StreamState.Reset || this.#state === StreamState.Closed) return;
    this.#resetError = err;
    this.#state = StreamState.Reset;
    this.#inbound.error(err);
    this.#window.fail(err);
    this.#head?.reject(err);
    this.#head?.promise.catch(() => {});
    this.#owner.retire(this);
    this.onReset?.(err);
  }

  // Called by the mux as frames arrive.

  /** @internal */ receiveHead(head: ResponseHead): void {
    if (this.#headReceived) throw new ProtocolError(`Second response head on stream ${this.id}`);
    this.#headReceived = true;
    this.#head ??= Promise.withResolvers<ResponseHead>();
    this.#head.resolve(head);
  }

  /** @internal */ receiveData(payload: Uint8Array, isEntry: boolean): void {
    if (isEntry && !this.#headReceived) throw new ProtocolError(`Data before the response head on stream ${this.id}`);
    this.#apply("recv-data");
    this.#inbound.push(payload);
  }

  /** @internal */ receiveEnd(isEntry = false): void {
    if (isEntry && !this.#headReceived) throw new ProtocolError(`End before the response head on stream ${this.id}`);
    this.#apply("recv-end");
    this.#inbound.end();
  }

  /** @internal */ receiveCredit(bytes: number): void {
    this.#window.grant(bytes);
  }

  #apply(event: StreamEvent): void {
    this.#state = transition(this.#state, event);
    if (this.#state === StreamState.Closed) this.#owner.retire(this);
  }
}
