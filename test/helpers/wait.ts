/** Polling helpers for end-to-end tests: bounded in time, never hanging. */

/**
 * Polls `probe` until it gives a value other than undefined (a thrown error
 * counts as undefined) and resolves with it; fails after `timeoutMs`.
 */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000, pollMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await probe();
    } catch {
      value = undefined;
    }
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await Bun.sleep(pollMs);
  }
}

/** Polls `check` until it is true; resolves with the milliseconds that took. */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  await eventually(() => check() || undefined, timeoutMs);
  return Date.now() - started;
}
