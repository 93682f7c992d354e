/**
 * The clocks of an uplink's life, on both sides, in one place: how long a
 * new socket may take to connect and to say hello, how often the client
 * pings, how long either side waits on silence (or on a peer that reads
 * nothing) before it gives the uplink up, and how long a stopping client
 * waits for its close to be answered. Injectable (config's
 * TUNNEL_UPLINK_TIMINGS) so tests run them at a 100 ms scale.
 */
export interface UplinkTimings {
  /** The client's WebSocket must be open within this. */
  connectTimeoutMs: number;
  /** The entry closes a socket that sent no hello within this. */
  helloTimeoutMs: number;
  /** The client pings the entry this often. */
  pingEveryMs: number;
  /** Either side closes an uplink it heard nothing from (or whose peer read nothing) for this long. */
  silenceMs: number;
  /** A client that stops waits this long for the entry to answer its close, then drops the uplink. */
  closeWaitMs: number;
}

export const DEFAULT_UPLINK_TIMINGS: UplinkTimings = {
  connectTimeoutMs: 10_000,
  helloTimeoutMs: 10_000,
  pingEveryMs: 5_000,
  silenceMs: 15_000,
  closeWaitMs: 500,
};

/** Why `timings` cannot work, or undefined: whole positive milliseconds, and at least two pings per silence. */
export function uplinkTimingsProblem(timings: UplinkTimings): string | undefined {
  for (const [name, value] of Object.entries(timings)) {
    if (!Number.isInteger(value) || value < 10 || value > 3_600_000) return `${name} must be whole milliseconds from 10 to 3600000`;
  }
  if (timings.pingEveryMs * 2 > timings.silenceMs) return "silenceMs must be at least twice pingEveryMs";
  return undefined;
}
