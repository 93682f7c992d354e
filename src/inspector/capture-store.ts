import type { HeaderList } from "../protocol/head.ts";
import { joinBytes } from "../protocol/bytes.ts";

/** Limits of what the inspector keeps (each with its default). */
export interface CaptureLimits {
  /** Requests kept, newest first; older ones are dropped (500). */
  maxRequests: number;
  /** Bytes of bodies kept over all requests; the oldest requests go first past it (64 MiB). */
  maxBodyBytes: number;
  /** Bytes kept of one body; the rest is counted, not kept (1 MiB). */
  maxBodyBytesEach: number;
}

export const DEFAULT_CAPTURE_LIMITS: CaptureLimits = {
  maxRequests: 500,
  maxBodyBytes: 64 * 1024 * 1024,
  maxBodyBytesEach: 1024 * 1024,
};

/**
 * A body as it passed: its first bytes (up to the per-body limit) and how
 * many there were in all. Filled as the bytes go by, never before.
 */
/** Small body parts are copied into shared slabs of this size rather than buffers of their own. */
const SLAB_BYTES = 256 * 1024;
/** Parts up to this size go into a slab. */
const SMALL_PART_BYTES = 4096;

/**
 * Where small captured parts are copied: one buffer shared by many bodies.
 * 500 kept requests with a small buffer each cost the client's garbage
 * collector ~3 µs per request (bench `inspector-cost`); slabs are a few
 * buffers in all, each freed once the requests using it have left.
 */
class Slabs {
  #slab = new Uint8Array(SLAB_BYTES);
  #used = 0;

  /** Copies `bytes` in; returns the slab and the offset they are at. */
  copy(bytes: Uint8Array): { slab: Uint8Array; offset: number } {
    if (this.#used + bytes.byteLength > SLAB_BYTES) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#used = 0;
    }
    const offset = this.#used;
    this.#slab.set(bytes, offset);
    this.#used += bytes.byteLength;
    return { slab: this.#slab, offset };
  }
}

export class CapturedBody {
  // A small body is a place in a shared slab (no buffer of its own); larger ones are copied parts.
  #slab: Uint8Array | undefined;
  #slabOffset = 0;
  #parts: Uint8Array[] | undefined;
  #kept = 0;
  /** Bytes that passed, kept or not. */
  size = 0;
  /** The body ended (or failed); `size` is final. */
  done = false;
  /** The body stopped short (its sender went away, or a reset): what was kept is not the whole of it. */
  failed = false;
  #limit: number;
  readonly #store: { charge(bytes: number): void; slabs: Slabs };

  constructor(limit: number, store: { charge(bytes: number): void; slabs: Slabs }) {
    this.#limit = limit;
    this.#store = store;
  }

  /** Bytes kept (at most the per-body limit). */
  get keptBytes(): number {
    return this.#kept;
  }

  /** Whether bytes passed that were not kept. */
  get truncated(): boolean {
    return this.size > this.#kept;
  }

  /** Notes bytes going by: a copy of what fits under the limit is kept. */
  add(bytes: Uint8Array): void {
    this.size += bytes.byteLength;
    const room = this.#limit - this.#kept;
    if (room <= 0 || bytes.byteLength === 0) return;
    const part = bytes.byteLength > room ? bytes.subarray(0, room) : bytes;
    if (this.#kept === 0 && part.byteLength <= SMALL_PART_BYTES) {
      const { slab, offset } = this.#store.slabs.copy(part);
      this.#slab = slab;
      this.#slabOffset = offset;
    } else {
      this.#parts ??= this.#slab ? [this.#slab.subarray(this.#slabOffset, this.#slabOffset + this.#kept)] : [];
      this.#slab = undefined;
      this.#parts.push(part.slice());
    }
    this.#kept += part.byteLength;
    this.#store.charge(part.byteLength);
  }

  /** The kept bytes, in one piece. */
  bytes(): Uint8Array {
    if (this.#slab) return this.#slab.subarray(this.#slabOffset, this.#slabOffset + this.#kept);
    if (!this.#parts) return new Uint8Array(0);
    if (this.#parts.length > 1) this.#parts = [joinBytes(this.#parts, this.#kept)];
    return this.#parts[0];
  }

  /** Drops what was kept (the request left the store); returns how many bytes that freed. */
  release(): number {
    const freed = this.#kept;
    this.#slab = this.#parts = undefined;
    this.#kept = 0;
    this.#limit = 0; // bytes still passing are counted, no longer kept
    return freed;
  }
}

const packHeaders = (headers: HeaderList): string => JSON.stringify(headers);
const unpackHeaders = (packed: string): HeaderList => JSON.parse(packed);

/** What a request is recorded with. */
export interface RequestFields {
  tunnel: string;
  time: number;
  method: string;
  path: string;
  requestHeaders: HeaderList;
  status?: number;
  responseHeaders?: HeaderList;
  replayOf?: number;
  webSocket?: { toTarget: number; fromTarget: number; closed: boolean; closeCode?: number };
  /** A TCP connection: bytes each way (read live), and whether it has closed. */
  tcp?: TcpCounts;
}

/** A TCP connection's figures, as the inspector shows them. */
export interface TcpCounts {
  readonly visitor: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly closed: boolean;
}

/** One request that came through the tunnel (or a replay of one). */
export class CapturedRequest {
  readonly id: number;
  /** The tunnel (session) it came through. */
  readonly tunnel: string;
  /** When it reached the client (epoch ms). */
  readonly time: number;
  readonly method: string;
  /** Path and query as the visitor sent them. */
  readonly path: string;
  readonly requestBody: CapturedBody;
  /** The target's status; undefined until its head arrives. */
  status: number | undefined;
  readonly responseBody: CapturedBody;
  /** Milliseconds from the request to the end of its response. */
  durationMs: number | undefined;
  /** Why the target gave no (whole) answer. */
  error: string | undefined;
  /** The request this one replays. */
  readonly replayOf: number | undefined;
  /** A WebSocket: messages each way, and whether it has closed. */
  readonly webSocket: { toTarget: number; fromTarget: number; closed: boolean; closeCode?: number } | undefined;
  /** A TCP connection's bytes each way. */
  readonly tcp: TcpCounts | undefined;
  #requestHead: string;
  #responseHead: string | undefined;

  constructor(id: number, fields: RequestFields, bodyLimit: number, store: { charge(bytes: number): void; slabs: Slabs }) {
    this.id = id;
    this.tunnel = fields.tunnel;
    this.time = fields.time;
    this.method = fields.method;
    this.path = fields.path;
    this.status = fields.status;
    this.replayOf = fields.replayOf;
    this.webSocket = fields.webSocket;
    this.tcp = fields.tcp;
    this.durationMs = undefined;
    this.error = undefined;
    this.#requestHead = packHeaders(fields.requestHeaders);
    this.#responseHead = fields.responseHeaders && packHeaders(fields.responseHeaders);
    this.requestBody = new CapturedBody(bodyLimit, store);
    this.responseBody = new CapturedBody(bodyLimit, store);
  }

  get requestHeaders(): HeaderList {
    return unpackHeaders(this.#requestHead);
  }

  get responseHeaders(): HeaderList | undefined {
    return this.#responseHead === undefined ? undefined : unpackHeaders(this.#responseHead);
  }

  set responseHeaders(headers: HeaderList | undefined) {
    this.#responseHead = headers && packHeaders(headers);
  }
}

export type StoreEvent =
  | { type: "added" | "updated"; request: CapturedRequest }
  | { type: "dropped"; id: number }
  | { type: "cleared" };

/**
 * The inspector's memory: the last `maxRequests` requests, their bodies
 * bounded per body and in all (the oldest requests leave first), and a
 * subscription for each change.
 */
export class CaptureStore {
  readonly limits: CaptureLimits;
  /** Request `id` sits at `id % maxRequests`; ids from `#oldest` to `#nextId - 1` are kept. */
  readonly #ring: (CapturedRequest | undefined)[];
  #oldest = 1;
  #nextId = 1;
  #bodyBytes = 0;
  #listeners = new Set<(event: StoreEvent) => void>();

  constructor(limits: Partial<CaptureLimits> = {}) {
    this.limits = { ...DEFAULT_CAPTURE_LIMITS, ...limits };
    this.#ring = new Array(this.limits.maxRequests).fill(undefined);
  }

  /** Bytes of bodies kept now. */
  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  get size(): number {
    return this.#nextId - this.#oldest;
  }

  /** Records a new request (oldest one dropped past the limit) and returns it. */
  add(fields: RequestFields): CapturedRequest {
    if (this.size >= this.limits.maxRequests) this.#dropOldest();
    const request = new CapturedRequest(this.#nextId++, fields, this.limits.maxBodyBytesEach, this.#charger);
    this.#ring[request.id % this.#ring.length] = request;
    if (this.#listeners.size > 0) this.#emit({ type: "added", request });
    return request;
  }

  /** Tells subscribers that `request` changed (its response arrived or ended). */
  updated(request: CapturedRequest): void {
    if (this.#listeners.size > 0 && this.get(request.id) === request) this.#emit({ type: "updated", request });
  }

  get(id: number): CapturedRequest | undefined {
    if (!Number.isInteger(id) || id < this.#oldest || id >= this.#nextId) return undefined;
    return this.#ring[id % this.#ring.length];
  }

  /** Newest first. */
  list(): CapturedRequest[] {
    const out: CapturedRequest[] = [];
    for (let id = this.#nextId - 1; id >= this.#oldest; id--) out.push(this.#ring[id % this.#ring.length]!);
    return out;
  }

  clear(): void {
    while (this.size > 0) this.#dropOldest(false);
    this.#emit({ type: "cleared" });
  }

  /** Calls `listener` on each change until the returned function is called. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  readonly #charger = {
    slabs: new Slabs(),
    charge: (bytes: number) => {
      this.#bodyBytes += bytes;
      // Oldest first; the request being captured may go too (its body is then no longer counted here).
      while (this.#bodyBytes > this.limits.maxBodyBytes && this.size > 0) this.#dropOldest();
    },
  };

  #dropOldest(announce = true): void {
    const at = this.#oldest % this.#ring.length;
    const request = this.#ring[at]!;
    this.#ring[at] = undefined;
    this.#oldest++;
    this.#bodyBytes -= request.requestBody.release() + request.responseBody.release();
    if (announce && this.#listeners.size > 0) this.#emit({ type: "dropped", id: request.id });
  }

  #emit(event: StoreEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
