/**
 * What the entry's metrics do per proxied request, timed in isolation:
 * `bun run bench/metrics-micro.ts` or `deno run bench/metrics-micro.ts`.
 * Prints JSON {requestNs, writerWaitNs, perRequestNs}. The metrics-cost
 * scenario divides perRequestNs by the entry's CPU time per request.
 */
import { MemoryMetrics } from "../src/metrics/entry-metrics.ts";
import { WAIT_SAMPLE_EVERY } from "../src/mux/frame-writer.ts";

/** Frames the entry's writer carries per small proxied request (heads, data, credit), measured under load. */
const FRAMES_PER_REQUEST = 4;
const N = 2_000_000;
const metrics = new MemoryMetrics();
for (let i = 0; i < 100_000; i++) metrics.request("bench", 200, i % 50); // warm up

let started = performance.now();
for (let i = 0; i < N; i++) {
  const t = performance.now(); // the entry's fetch wrapper reads the clock twice per request
  metrics.request("bench", 200, performance.now() - t + (i % 7));
}
const requestNs = ((performance.now() - started) * 1e6) / N;

started = performance.now();
for (let i = 0; i < N; i++) {
  const t = performance.now(); // a sampled frame costs two clock reads and one observation
  metrics.writerWait("bench", performance.now() - t);
}
const writerWaitNs = ((performance.now() - started) * 1e6) / N;
metrics.close();
const perRequestNs = requestNs + (FRAMES_PER_REQUEST / WAIT_SAMPLE_EVERY) * writerWaitNs;
console.log(JSON.stringify({ requestNs, writerWaitNs, perRequestNs }));
