/**
 * CPU time per process, read from /proc (Linux): what a process used around
 * one load run, per request served.
 */

/** CPU time (user + system, ms) a process has used so far, all its threads. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/**
 * Runs `run` (one load) and returns its result with the CPU each of `pids`
 * used meanwhile, in µs per request of that run. The clock ticks in 10 ms, so
 * a run should cost each process a second or more of CPU.
 */
export async function withCpu<K extends string, R extends { requests: number }>(
  pids: Record<K, number>,
  run: () => Promise<R>,
): Promise<R & { cpuUsPerRequest: Record<K, number> }> {
  const names = Object.keys(pids) as K[];
  const before = await Promise.all(names.map((k) => cpuMs(pids[k])));
  const result = await run();
  const after = await Promise.all(names.map((k) => cpuMs(pids[k])));
  const cpuUsPerRequest = {} as Record<K, number>;
  names.forEach((k, i) => (cpuUsPerRequest[k] = ((after[i] - before[i]) * 1000) / Math.max(1, result.requests)));
  return { ...result, cpuUsPerRequest };
}
