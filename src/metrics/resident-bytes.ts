import process from "node:process";

let lastGood = 0;

/**
 * The process's resident memory in bytes (`process.memoryUsage().rss`), or
 * the last value read when that fails. It fails when no file descriptor is
 * free, since both runtimes read /proc for it: Bun throws "Failed to get
 * memory usage", Deno answers 0. A metrics timer must never be what takes
 * the entry down when its descriptors run out.
 */
export function residentBytes(): number {
  let rss = 0;
  try {
    rss = process.memoryUsage().rss;
  } catch {
    // out of descriptors (Bun): keep the last reading
  }
  if (rss > 0) lastGood = rss;
  return lastGood;
}
