import { CloseCode, Flag, FrameKind, GoAwayCode, MAX_MESSAGE_BYTES, ResetCode } from "../protocol/constants.ts";
import { decodeCredit, decodeFrameAt, decodeReason, encodeFrame, encodeReason, type Frame } from "../protocol/frame.ts";
import { decodeRequestHead, decodeResponseHead, encodeHead, type RequestHead } from "../protocol/head.ts";
import { ProtocolError } from "../protocol/protocol-error.ts";
import type { FrameSocket } from "./frame-socket.ts";
import { createFrameSink, type FrameSink } from "./frame-sink.ts";
import { PeerNotReadingError } from "./frame-writer.ts";
import { MuxStream, type StreamOwner } from "./mux-stream.ts";
import { StreamResetError } from "./stream-reset-error.ts";

/** Options for {@linkcode Mux}. */
export interface MuxOptions {
  /** The entry opens streams; the client accepts them. */
  role: "entry" | "client";
  socket: FrameSocket;
  /** Our receive window per stream (what we advertised). */
  localWindow: number;
  /** The peer's receive window per stream (what it advertised). */
  peerWindow: number;
  /** Client side: a stream was opened by the entry. */
  onStream?: (stream: MuxStream, head: RequestHead) => void;
  /** The peer sent GoAway. */
  onGoAway?: (code: number, message: string) => void;
  /** The mux closed: `err` says why (undefined for a clean close). */
  onClose?: (err: Error | undefined) => void;
  /** Observes how long each frame waited in the writer queue (ms). */
  onWriterWait?: (ms: number) => void;
}

/**
 * Pings a peer may send in one second (a client pings every 5 s): a flood of
 * them would cost the entry's CPU for every other session, so it is a
 * protocol error.
 */
export const MAX_PINGS_PER_SECOND = 50;

/** How many recently reset stream ids to remember, to drop their late frames. */
const RECENT_RESETS = 4096;

/**
 * The multiplexer of one uplink: the stream table, the reader that decodes
 * and dispatches incoming frames, and the one writer ({@linkcode FrameSink}).
 */
export class Mux implements StreamOwner {
  readonly writer: FrameSink;
  #options: MuxOptions;
  #streams = new Map<number, MuxStream>();
  #recentResets = new Set<number>();
  #highestId = 0;
  #closed: Error | null | undefined = undefined;
  #pings = new Map<string, (rtt: number) => void>();
  #lastSeen = Date.now();
  #pingSecond = 0;
  #pingsThisSecond = 0;
  /** Set once the peer sent GoAway or we did: no new streams. */
  goingAway = false;
  /** DATA payload bytes received and sent, and window stalls of finished streams. */
  bytesIn = 0;
  bytesOut = 0;
  stalls = 0;

  constructor(options: MuxOptions) {
    this.#options = options;
    this.writer = createFrameSink(options.socket, (err) => {
      this.close(err);
      if (err instanceof PeerNotReadingError) options.socket.close(CloseCode.NotReading, err.message.slice(0, 120));
    }, options.onWriterWait);
  }

  /** Streams open now. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  /** Bytes waiting in the writer queue. */
  get queuedBytes(): number {
    return this.writer.queuedBytes;
  }

  /** When a frame last arrived (ms since epoch). */
  get lastSeen(): number {
    return this.#lastSeen;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Entry side: opens a stream and sends its request head. */
  open(head: RequestHead, endStream: boolean): MuxStream {
    if (this.#options.role !== "entry") throw new Error("Only the entry opens streams");
    if (this.#closed !== undefined) throw StreamResetError.uplinkLost("uplink closed");
    // Encoded first: a head that cannot be sent must not leave a stream behind.
    const payload = encodeHead(head);
    const id = ++this.#highestId;
    const stream = new MuxStream(id, this, this.#windows());
    this.#streams.set(id, stream);
    stream.sendEncodedHead(FrameKind.RequestHead, payload, endStream);
    return stream;
  }

  /** Decodes the frames of one incoming message and acts on each. Never throws. */
  receive(message: Uint8Array): void {
    if (this.#closed !== undefined) return;
    this.#lastSeen = Date.now();
    try {
      if (message.byteLength > MAX_MESSAGE_BYTES) {
        throw new ProtocolError(`Message too large: ${message.byteLength} bytes`);
      }
      if (message.byteLength === 0) throw new ProtocolError("Empty message");
      for (let offset = 0; offset < message.byteLength && this.#closed === undefined;) {
        const frame = decodeFrameAt(message, offset);
        this.#dispatch(frame);
        offset = frame.end;
      }
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.protocolError(err);
      } else {
        this.close(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** Sends GoAway and closes the uplink for a protocol violation. */
  protocolError(err: ProtocolError): void {
    if (this.#closed !== undefined) return;
    this.writer.send(encodeFrame(FrameKind.GoAway, 0, 0, encodeReason(GoAwayCode.ProtocolError, err.message)));
    // Let the GoAway go out before the socket closes.
    setTimeout(() => this.#options.socket.close(4002, `Protocol error: ${err.message}`.slice(0, 120)), 50);
    this.close(err);
  }

  /** Tells the peer we take no new streams. */
  goAway(code: number, message: string): void {
    this.goingAway = true;
    if (this.#closed === undefined) {
      this.writer.send(encodeFrame(FrameKind.GoAway, 0, 0, encodeReason(code, message)));
    }
  }

  /** Sends a ping; resolves with the round-trip time in ms. */
  ping(): Promise<number> {
    const payload = new Uint8Array(8);
    crypto.getRandomValues(payload);
    const key = payload.join(",");
    const started = performance.now();
    return new Promise((resolve) => {
      this.#pings.set(key, () => resolve(performance.now() - started));
      this.writer.send(encodeFrame(FrameKind.Ping, 0, 0, payload));
    });
  }

  /** Ends every stream with the error and stops the writer. Idempotent. */
  close(err?: Error): void {
    if (this.#closed !== undefined) return;
    this.#closed = err ?? null;
    const lost = err instanceof StreamResetError ? err : StreamResetError.uplinkLost(err?.message ?? "closed");
    for (const stream of [...this.#streams.values()]) stream.fail(lost);
    this.#streams.clear();
    if (err) this.writer.abort(err);
    this.#options.onClose?.(err);
  }

  /** @internal StreamOwner: a stream reached Closed or Reset. */
  retire(stream: MuxStream): void {
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    this.stalls += stream.stalls;
    if (stream.resetError) {
      this.#recentResets.add(stream.id);
      if (this.#recentResets.size > RECENT_RESETS) {
        this.#recentResets.delete(this.#recentResets.values().next().value!);
      }
    }
  }

  #windows() {
    return { local: this.#options.localWindow, peer: this.#options.peerWindow };
  }

  #dispatch(frame: Frame): void {
    switch (frame.kind) {
      case FrameKind.Hello:
      case FrameKind.Welcome:
        throw new ProtocolError("Unexpected handshake frame after handshake");
      case FrameKind.RequestHead:
        return this.#onRequestHead(frame);
      case FrameKind.ResponseHead: {
        if (this.#options.role !== "entry") throw new ProtocolError("Client received a response head");
        const stream = this.#stream(frame, true);
        if (!stream) return;
        const head = this.#decodeHead(stream, decodeResponseHead, frame.payload);
        if (!head) return;
        stream.receiveHead(head);
        if (frame.flags & Flag.EndStream) stream.receiveEnd();
        return;
      }
      case FrameKind.Data: {
        const stream = this.#stream(frame, true);
        if (!stream) return;
        this.bytesIn += frame.payload.byteLength;
        stream.receiveData(frame.payload, this.#options.role === "entry");
        if (frame.flags & Flag.EndStream) stream.receiveEnd();
        return;
      }
      case FrameKind.End:
        return this.#stream(frame, true)?.receiveEnd(this.#options.role === "entry");
      case FrameKind.Reset: {
        const stream = this.#stream(frame, false);
        if (!stream) return;
        const { code, message } = decodeReason(frame.payload);
        stream.fail(new StreamResetError(code, message));
        return;
      }
      case FrameKind.WindowUpdate:
        return this.#stream(frame, false)?.receiveCredit(decodeCredit(frame.payload));
      case FrameKind.Ping:
        if (frame.flags & Flag.Ack) {
          const key = frame.payload.join(",");
          this.#pings.get(key)?.(0);
          this.#pings.delete(key);
        } else {
          const second = Math.floor(this.#lastSeen / 1000);
          if (second !== this.#pingSecond) {
            this.#pingSecond = second;
            this.#pingsThisSecond = 0;
          }
          if (++this.#pingsThisSecond > MAX_PINGS_PER_SECOND) {
            throw new ProtocolError(`Ping flood: more than ${MAX_PINGS_PER_SECOND} pings in a second`);
          }
          this.writer.send(encodeFrame(FrameKind.Ping, Flag.Ack, 0, frame.payload));
        }
        return;
      case FrameKind.GoAway: {
        const { code, message } = decodeReason(frame.payload);
        this.goingAway = true;
        this.#options.onGoAway?.(code, message);
        return;
      }
    }
  }

  /** Decodes a head frame's payload; one that makes no sense resets its own stream (never the uplink) and gives undefined. */
  #decodeHead<T>(stream: MuxStream, decode: (payload: Uint8Array) => T, payload: Uint8Array): T | undefined {
    try {
      return decode(payload);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      stream.reset(ResetCode.ProtocolError, err.message);
      return undefined;
    }
  }

  #onRequestHead(frame: Frame): void {
    if (this.#options.role !== "client") throw new ProtocolError("Entry received a request head");
    if (frame.streamId <= this.#highestId) {
      throw new ProtocolError(`Stream id ${frame.streamId} reused or out of order`);
    }
    this.#highestId = frame.streamId;
    const stream = new MuxStream(frame.streamId, this, this.#windows());
    this.#streams.set(frame.streamId, stream);
    const head = this.#decodeHead(stream, decodeRequestHead, frame.payload);
    if (!head) return;
    if (frame.flags & Flag.EndStream) stream.receiveEnd();
    else stream.peerSendsBody = true;
    if (this.#options.onStream) {
      this.#options.onStream(stream, head);
    } else {
      stream.reset(ResetCode.Cancel, "Not accepting streams");
    }
  }

  /**
   * Looks up a frame's stream. Frames for streams we reset lately, and
   * credit or resets for streams already finished, are dropped; anything
   * else for an unknown stream is a protocol error.
   */
  #stream(frame: Frame, carriesBody: boolean): MuxStream | undefined {
    const stream = this.#streams.get(frame.streamId);
    if (stream) return stream;
    if (this.#recentResets.has(frame.streamId)) return undefined;
    if (!carriesBody && frame.streamId <= this.#highestId) return undefined;
    throw new ProtocolError(`Frame kind ${frame.kind} for unknown stream ${frame.streamId}`);
  }
}
