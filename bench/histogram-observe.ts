/**
 * Histogram.observe() cost, this tree's against another's (the latency histograms take one
 * observation per request): `bun bench/histogram-observe.ts OTHER/src/metrics/histogram.ts`.
 */
import { Histogram as Here } from "../src/metrics/histogram.ts";

const other = process.argv[2];
if (!other) throw new Error("Usage: bun bench/histogram-observe.ts PATH/TO/OTHER/histogram.ts");
const { Histogram: There } = await import(other) as { Histogram: typeof Here };
const values = Array.from({ length: 1 << 16 }, (_, i) => ((i * 7919) % 4000) / 10);
const nsPerObserve = (H: typeof Here, n: number) => {
  const h = new H();
  const t = performance.now();
  for (let i = 0; i < n; i++) h.observe(values[i & 0xffff]);
  return (performance.now() - t) * 1e6 / n;
};
const runs = { other: [] as number[], here: [] as number[] };
for (let k = 0; k < 6; k++) {
  runs.other.push(nsPerObserve(There, 5e6));
  runs.here.push(nsPerObserve(Here, 5e6));
}
const median = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
console.log(`observe() ns, median of 6 interleaved runs of 5M: other ${median(runs.other).toFixed(2)}, here ${median(runs.here).toFixed(2)}`);
