import { type DashboardFeed, type FeedPoint, HISTORY_SECONDS } from "../metrics/dashboard-feed.ts";

/** Most `/api/live` readers at once; past it they are answered 503. */
export const MAX_LIVE_READERS = 32;

/** A reader that takes nothing for this long while points wait for it is cut. */
export const READER_STALL_MS = 15_000;

/**
 * Points kept beyond the history: a reader may fall this many points (seconds at the default tick) behind
 * the start of the history it was sent (and so at most this much beyond the
 * history, in bytes) before it is cut.
 */
export const READER_SLACK_POINTS = 60;

const encoder = new TextEncoder();
const POINT_PREFIX = "event: point\ndata: ";
const HISTORY_OPEN = encoder.encode("event: history\ndata: [");
const EMPTY_HISTORY = encoder.encode("event: history\ndata: []\n\n");
const COMMA = encoder.encode(",");
const HISTORY_CLOSE = encoder.encode("]\n\n");

/** One point, encoded once for every reader. */
interface Encoded {
  /** `event: point\ndata: <json>\n\n` */
  event: Uint8Array;
  /** The JSON alone: a view into `event`, for histories. */
  json: Uint8Array;
}

/** Where one reader is: everything it will be sent is in the shared journal. */
interface Reader {
  controller: ReadableStreamDefaultController<Uint8Array>;
  /** Sequence number of the next point to send. */
  next: number;
  /** Last point of the history it is sent first (below `next` once the history is sent). */
  historyEnd: number;
  opened: boolean;
  /** The separator owed after the history point just sent. */
  separator: Uint8Array | undefined;
  /** When the runtime last asked for bytes. */
  lastTake: number;
  /** Set while the runtime waits for a point that has not come yet. */
  wake: (() => void) | undefined;
}

export interface LiveFeedOptions {
  maxReaders?: number;
  stallMs?: number;
  slackPoints?: number;
  now?: () => number;
  /** Told when a reader is cut, and why. */
  onCut?: (reason: string, readers: number) => void;
}

/**
 * The server-sent-events bytes of `/api/live` for every reader at once. Each
 * point is encoded once, into a journal of the last {@linkcode HISTORY_SECONDS}
 * + slack points that all readers share: a reader is only a position in it,
 * and its stream is pulled (highWaterMark 0), so bytes are handed over only
 * as fast as its socket takes them. Nothing is copied per reader, so what all
 * readers can pin is the journal, whatever their number; a reader that takes
 * nothing for `stallMs` while points wait, or falls off the journal's end,
 * is cut (its connection is closed; a browser's EventSource reconnects).
 */
export class LiveFeed {
  readonly #journal: Encoded[] = [];
  /** Sequence number of `#journal[0]`. */
  #first = 0;
  readonly #readers = new Set<Reader>();
  readonly #maxReaders: number;
  readonly #stallMs: number;
  readonly #keep: number;
  readonly #now: () => number;
  readonly #onCut: (reason: string, readers: number) => void;
  readonly #leave: () => void;
  #closed = false;

  constructor(feed: DashboardFeed, options: LiveFeedOptions = {}) {
    this.#maxReaders = options.maxReaders ?? MAX_LIVE_READERS;
    this.#stallMs = options.stallMs ?? READER_STALL_MS;
    this.#keep = HISTORY_SECONDS + (options.slackPoints ?? READER_SLACK_POINTS);
    this.#now = options.now ?? Date.now;
    this.#onCut = options.onCut ?? (() => {});
    for (const point of feed.history()) this.#append(point);
    this.#leave = feed.subscribe((point) => this.#onPoint(point));
  }

  /** Readers connected now. */
  get readers(): number {
    return this.#readers.size;
  }

  /** Bytes the journal holds (all readers' unread bytes come out of it). */
  get journalBytes(): number {
    return this.#journal.reduce((n, e) => n + e.event.byteLength, 0);
  }

  /** True once {@linkcode close} ended the feed: no reader is taken any more. */
  get closed(): boolean {
    return this.#closed;
  }

  /** A new reader's stream (history first, then each point), or undefined when `maxReaders` are connected or the feed is closed. */
  open(): ReadableStream<Uint8Array> | undefined {
    if (this.#closed || this.#readers.size >= this.#maxReaders) return undefined;
    const head = this.#first + this.#journal.length; // the next point to come
    let reader: Reader;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        reader = {
          controller,
          next: Math.max(this.#first, head - HISTORY_SECONDS),
          historyEnd: head - 1,
          opened: false,
          separator: undefined,
          lastTake: this.#now(),
          wake: undefined,
        };
        this.#readers.add(reader);
      },
      pull: async (controller) => {
        reader.lastTake = this.#now();
        for (;;) {
          if (!this.#readers.has(reader)) return;
          const bytes = this.#take(reader);
          if (bytes) return controller.enqueue(bytes);
          await new Promise<void>((resolve) => (reader.wake = resolve));
          reader.wake = undefined;
          reader.lastTake = this.#now();
        }
      },
      cancel: () => this.#drop(reader),
    }, { highWaterMark: 0 });
  }

  /** Ends every reader's stream and stops listening to the feed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#leave();
    for (const reader of [...this.#readers]) {
      this.#drop(reader);
      try {
        reader.controller.close();
      } catch {
        // already closed or errored
      }
    }
  }

  #append(point: FeedPoint): void {
    const event = encoder.encode(`${POINT_PREFIX}${JSON.stringify(point)}\n\n`);
    this.#journal.push({ event, json: event.subarray(POINT_PREFIX.length, event.byteLength - 2) });
    while (this.#journal.length > this.#keep) {
      this.#journal.shift();
      this.#first++;
    }
  }

  #onPoint(point: FeedPoint): void {
    this.#append(point);
    const now = this.#now();
    for (const reader of [...this.#readers]) {
      if (reader.next < this.#first) {
        this.#cut(reader, `fell more than ${this.#keep - HISTORY_SECONDS} points behind`);
      } else if (reader.wake) {
        reader.wake();
      } else if (now - reader.lastTake >= this.#stallMs) {
        this.#cut(reader, `took nothing for ${Math.round((now - reader.lastTake) / 1000)} s`);
      }
    }
  }

  /** The next bytes for `reader`, or undefined when it has had every point so far. */
  #take(reader: Reader): Uint8Array | undefined {
    if (!reader.opened) {
      reader.opened = true;
      return reader.next > reader.historyEnd ? EMPTY_HISTORY : HISTORY_OPEN;
    }
    if (reader.separator) {
      const separator = reader.separator;
      reader.separator = undefined;
      return separator;
    }
    const entry = this.#journal[reader.next - this.#first];
    if (!entry) return undefined;
    if (reader.next <= reader.historyEnd) {
      reader.separator = reader.next === reader.historyEnd ? HISTORY_CLOSE : COMMA;
      reader.next++;
      return entry.json;
    }
    reader.next++;
    return entry.event;
  }

  #drop(reader: Reader): void {
    this.#readers.delete(reader);
    reader.wake?.();
  }

  #cut(reader: Reader, reason: string): void {
    this.#drop(reader);
    // Erroring (not closing) the stream makes the runtime close the connection, freeing its socket buffers too.
    reader.controller.error(`tunnel2: /api/live reader cut: it ${reason}`);
    this.#onCut(reason, this.#readers.size);
  }
}
