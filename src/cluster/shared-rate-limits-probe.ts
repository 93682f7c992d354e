/**
 * Runs {@linkcode SharedRateLimits} under this runtime against a Redis and
 * prints one JSON line: how many of 30 checks two limiters (two entries) on
 * one session at 10 RPS, burst 10, admitted, and what a check costs.
 *
 * `REDIS_URL=redis://127.0.0.1:6379 deno run -A src/cluster/shared-rate-limits-probe.ts`
 * (or `bun run …`); CHECKS=2000 timed checks by default, PREFIX to keep keys apart.
 */
import process from "node:process";
import { Redis } from "ioredis";
import { RateLimits } from "../entry/rate-limits.ts";
import { createLogger } from "../log.ts";
import { SharedRateLimits } from "./shared-rate-limits.ts";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = process.env.PREFIX ?? `probe-${Date.now()}:`;
const checks = Number(process.env.CHECKS ?? 2000);
const log = createLogger();

const shared = (rps: number) => SharedRateLimits.create({ rps, burst: rps }, undefined, { url, prefix, log })!;

async function untilConnected(...limits: SharedRateLimits[]): Promise<void> {
  for (let i = 0; i < 500 && !limits.every((l) => l.connected); i++) await new Promise((r) => setTimeout(r, 10));
  if (!limits.every((l) => l.connected)) throw new Error(`no Redis at ${url}`);
}

/** p50 and p99 in ms of `n` sequential runs of `run` (after 100 unmeasured). */
async function time(n: number, run: () => unknown): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 100; i++) await run();
  const took: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await run();
    took.push(performance.now() - start);
  }
  took.sort((a, b) => a - b);
  const at = (q: number) => Number(took[Math.min(n - 1, Math.floor(q * n))].toFixed(4));
  return { p50: at(0.5), p99: at(0.99) };
}

const a = shared(10);
const b = shared(10);
await untilConnected(a, b);
const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).check("demo")));
const admitted = answers.filter((d) => d === undefined).length;
const refused = answers.find((d) => d !== undefined);

// Timed on a session that is never refused, so every check also writes its bucket.
const fast = shared(1e9);
const local = RateLimits.create({ rps: 1e9, burst: 1e9 }, undefined)!;
const ping = new Redis(url);
await untilConnected(fast);
const sharedCheck = await time(checks, () => fast.check("bench"));
const localCheck = await time(checks, () => local.check("bench"));
const redisPing = await time(checks, () => ping.ping());

console.log(JSON.stringify({
  runtime: navigator.userAgent,
  admitted,
  refused,
  checks,
  sharedCheckMs: sharedCheck,
  localCheckMs: localCheck,
  pingMs: redisPing,
  addedP50Ms: Number((sharedCheck.p50 - localCheck.p50).toFixed(4)),
}));
await Promise.all([a.close(), b.close(), fast.close()]);
ping.disconnect();
