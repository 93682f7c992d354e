import { afterEach, describe, expect, test } from "bun:test";
import { DashboardFeed, HISTORY_SECONDS } from "../metrics/dashboard-feed.ts";
import { MemoryMetrics } from "../metrics/entry-metrics.ts";
import type { LiveSession } from "../metrics/prometheus-text.ts";
import { LiveFeed, type LiveFeedOptions, MAX_LIVE_READERS, READER_SLACK_POINTS, READER_STALL_MS } from "./live-feed.ts";

const decoder = new TextDecoder();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A feed of `sessions` idle sessions, a live feed on it, and a clock the test moves. */
function setUp(options: LiveFeedOptions = {}, sessions = 3) {
  const metrics = new MemoryMetrics();
  const live: LiveSession[] = Array.from({ length: sessions }, (_, i) => ({
    name: `s${i}`,
    uplinks: 1,
    activeStreams: 0,
    webSockets: 0,
    queuedBytes: 0,
    bytesToVisitor: 0,
    bytesToTarget: 0,
    stalls: 0,
  }));
  const feed = new DashboardFeed(metrics, () => live, () => 1234);
  const clock = { now: 1_000_000 };
  const liveFeed = new LiveFeed(feed, { now: () => clock.now, ...options });
  cleanups.push(() => liveFeed.close(), () => metrics.close());
  const tick = (n = 1) => {
    for (let i = 0; i < n; i++) {
      clock.now += 1000;
      feed.tick(clock.now);
    }
  };
  return { feed, liveFeed, clock, tick };
}

/** Reads whole events (up to the blank line) from a stream, keeping the chunks too. */
function eventReader(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let text = "";
  return {
    chunks,
    reader,
    async next(): Promise<string> {
      while (!text.includes("\n\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        chunks.push(value);
        text += decoder.decode(value);
      }
      const end = text.indexOf("\n\n") + 2;
      const event = text.slice(0, end);
      text = text.slice(end);
      return event;
    },
  };
}

describe("LiveFeed", () => {
  test("bounds: 32 readers, cut after 15 s without taking, 60 s of slack past the history", () => {
    expect(MAX_LIVE_READERS).toBe(32);
    expect(READER_STALL_MS).toBe(15_000);
    expect(READER_SLACK_POINTS).toBe(60);
  });

  test("sends the same bytes as encoding the history and each point per reader did", async () => {
    const { feed, liveFeed, tick } = setUp();
    tick(5);
    const events = eventReader(liveFeed.open()!);
    expect(await events.next()).toBe(`event: history\ndata: ${JSON.stringify(feed.history())}\n\n`);
    tick();
    expect(await events.next()).toBe(`event: point\ndata: ${JSON.stringify(feed.history().at(-1))}\n\n`);
    const fresh = eventReader(setUp().liveFeed.open()!);
    expect(await fresh.next()).toBe("event: history\ndata: []\n\n");
  });

  test("a new reader gets the last HISTORY_SECONDS points, however many the journal keeps", async () => {
    const { feed, liveFeed, tick } = setUp({}, 1);
    tick(HISTORY_SECONDS + 30);
    const history = JSON.parse((await eventReader(liveFeed.open()!).next()).split("data: ")[1]);
    expect(history.length).toBe(HISTORY_SECONDS);
    expect(history.at(-1).t).toBe(feed.history().at(-1)!.t);
    expect(history[0].t).toBe(feed.history()[0].t);
  });

  test("readers share the encoded bytes: nothing is copied per reader", async () => {
    const { liveFeed, tick } = setUp({}, 50);
    tick(20);
    const a = eventReader(liveFeed.open()!);
    const b = eventReader(liveFeed.open()!);
    await a.next();
    await b.next();
    tick();
    await a.next();
    await b.next();
    const big = (chunks: Uint8Array[]) => chunks.filter((c) => c.byteLength > 1000);
    expect(big(a.chunks).length).toBe(21); // 20 history points, one live point
    big(a.chunks).forEach((chunk, i) => expect(big(b.chunks)[i].buffer).toBe(chunk.buffer));
    // The journal holds each point once, whatever the number of readers.
    expect(liveFeed.journalBytes).toBeLessThan(21 * 50 * 300);
  });

  test("past maxReaders, open() refuses; a reader that leaves frees its place", async () => {
    const { liveFeed } = setUp({ maxReaders: 2 });
    const first = liveFeed.open()!;
    expect(liveFeed.open()).toBeDefined();
    expect(liveFeed.open()).toBeUndefined();
    expect(liveFeed.readers).toBe(2);
    await first.cancel();
    expect(liveFeed.readers).toBe(1);
    expect(liveFeed.open()).toBeDefined();
  });

  test("a reader that takes nothing while points wait is cut after stallMs; one that reads is not", async () => {
    const cuts: string[] = [];
    const { liveFeed, tick } = setUp({ stallMs: 15_000, onCut: (reason) => cuts.push(reason) });
    const idle = liveFeed.open()!;
    const reading = eventReader(liveFeed.open()!);
    await reading.next();
    const pending = reading.next(); // waits for points: the runtime is asking
    tick(14);
    await pending;
    expect(cuts).toEqual([]);
    tick(1);
    expect(cuts).toEqual(["took nothing for 15 s"]);
    expect(liveFeed.readers).toBe(1);
    const idleReader = idle.getReader();
    await expect(idleReader.read()).rejects.toBe("tunnel2: /api/live reader cut: it took nothing for 15 s");
    // The reader that keeps reading stays however long it runs.
    for (let i = 0; i < 60; i++) {
      const next = reading.next();
      tick();
      expect(await next).toStartWith("event: point\n");
    }
    expect(liveFeed.readers).toBe(1);
  });

  test("a reader that falls more than the slack behind the history it was sent the journal and is cut", async () => {
    const cuts: string[] = [];
    const { liveFeed, tick } = setUp({ stallMs: Infinity, slackPoints: 10, onCut: (reason) => cuts.push(reason) });
    tick(HISTORY_SECONDS);
    const slow = liveFeed.open()!.getReader();
    await slow.read(); // the history's opening, then no more: its first point must stay kept
    tick(10);
    expect(cuts).toEqual([]);
    tick();
    expect(cuts).toEqual(["fell more than 10 points behind"]);
    await expect(slow.read()).rejects.toContain("fell more than 10 points behind");
  });

  test("the journal keeps HISTORY_SECONDS + slack points", () => {
    const { liveFeed, tick } = setUp({ slackPoints: 10 }, 0);
    tick(HISTORY_SECONDS + 50);
    const pointBytes = `event: point\ndata: ${JSON.stringify({ t: 1_000_000, rssBytes: 1234, lagMs: 0, sessions: [], unknownRps: 0 })}\n\n`.length;
    expect(liveFeed.journalBytes).toBe((HISTORY_SECONDS + 10) * pointBytes);
  });

  test("close() ends every reader, and no reader is taken after it", async () => {
    const { liveFeed, tick } = setUp();
    tick();
    const reader = liveFeed.open()!.getReader();
    await reader.read();
    liveFeed.close();
    let done = false;
    while (!done) done = (await reader.read()).done;
    expect(liveFeed.readers).toBe(0);
    expect([liveFeed.closed, liveFeed.open()]).toEqual([true, undefined]);
  });
});
