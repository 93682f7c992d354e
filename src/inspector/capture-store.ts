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
export class CapturedBody {
  #parts: Uint8Array[] = [];
  #kept = 0;
  /** Bytes that passed, kept or not. */
  size = 0;
  /** The body ended (or failed); `size` is final. */
  done = false;
  #limit: number;
  readonly #charge: (bytes: number) => void;

  constructor(limit: number, charge: (bytes: number) => void) {
    this.#limit = limit;
    this.#charge = charge;
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
    const part = bytes.slice(0, Math.min(room, bytes.byteLength));
    this.#parts.push(part);
    this.#kept += part.byteLength;
    this.#charge(part.byteLength);
  }

  /** The kept bytes, in one piece. */
  bytes(): Uint8Array {
    if (this.#parts.length > 1) this.#parts = [joinBytes(this.#parts, this.#kept)];
    return this.#parts[0] ?? new Uint8Array(0);
  }

  /** Drops what was kept (the request left the store); returns how many bytes that freed. */
  release(): number {
    const freed = this.#kept;
    this.#parts = [];
    this.#kept = 0;
    this.#limit = 0; // bytes still passing are counted, no longer kept
    return freed;
  }
}

/** One request that came through the tunnel (or a replay of one). */
export interface CapturedRequest {
  id: number;
  /** The tunnel (session) it came through. */
  tunnel: string;
  /** When it reached the client (epoch ms). */
  time: number;
  method: string;
  /** Path and query as the visitor sent them. */
  path: string;
  requestHeaders: HeaderList;
  requestBody: CapturedBody;
  /** The target's status; undefined until its head arrives. */
  status?: number;
  responseHeaders?: HeaderList;
  responseBody: CapturedBody;
  /** Milliseconds from the request to the end of its response. */
  durationMs?: number;
  /** Why the target gave no (whole) answer. */
  error?: string;
  /** The request this one replays. */
  replayOf?: number;
  /** A WebSocket: messages each way, and whether it has closed. */
  webSocket?: { toTarget: number; fromTarget: number; closed: boolean; closeCode?: number };
}

export type StoreEvent =
  | { type: "added" | "updated"; request: CapturedRequest }
  | { type: "cleared" };

/**
 * The inspector's memory: the last `maxRequests` requests, their bodies
 * bounded per body and in all (the oldest requests leave first), and a
 * subscription for each change.
 */
export class CaptureStore {
  readonly limits: CaptureLimits;
  #requests: CapturedRequest[] = [];
  #byId = new Map<number, CapturedRequest>();
  #nextId = 1;
  #bodyBytes = 0;
  #listeners = new Set<(event: StoreEvent) => void>();

  constructor(limits: Partial<CaptureLimits> = {}) {
    this.limits = { ...DEFAULT_CAPTURE_LIMITS, ...limits };
  }

  /** Bytes of bodies kept now. */
  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  get size(): number {
    return this.#requests.length;
  }

  /** Records a new request (oldest one dropped past the limit) and returns it. */
  add(fields: Omit<CapturedRequest, "id" | "requestBody" | "responseBody">): CapturedRequest {
    const charge = (bytes: number) => this.#charge(bytes);
    const request: CapturedRequest = {
      ...fields,
      id: this.#nextId++,
      requestBody: new CapturedBody(this.limits.maxBodyBytesEach, charge),
      responseBody: new CapturedBody(this.limits.maxBodyBytesEach, charge),
    };
    this.#requests.push(request);
    this.#byId.set(request.id, request);
    while (this.#requests.length > this.limits.maxRequests) this.#drop(this.#requests[0]);
    this.#emit({ type: "added", request });
    return request;
  }

  /** Tells subscribers that `request` changed (its response arrived or ended). */
  updated(request: CapturedRequest): void {
    if (this.#byId.get(request.id) === request) this.#emit({ type: "updated", request });
  }

  get(id: number): CapturedRequest | undefined {
    return this.#byId.get(id);
  }

  /** Newest first. */
  list(): CapturedRequest[] {
    return this.#requests.slice().reverse();
  }

  clear(): void {
    for (const request of this.#requests.slice()) this.#drop(request);
    this.#emit({ type: "cleared" });
  }

  /** Calls `listener` on each change until the returned function is called. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #charge(bytes: number): void {
    this.#bodyBytes += bytes;
    // Oldest first; the request being captured may go too (its body is then no longer counted here).
    while (this.#bodyBytes > this.limits.maxBodyBytes && this.#requests.length > 0) this.#drop(this.#requests[0]);
  }

  #drop(request: CapturedRequest): void {
    const at = this.#requests.indexOf(request);
    if (at >= 0) this.#requests.splice(at, 1);
    this.#byId.delete(request.id);
    this.#bodyBytes -= request.requestBody.release() + request.responseBody.release();
  }

  #emit(event: StoreEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
