import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import { requestHeadBytes } from "./request-head.ts";
import { StaleConnection, TargetConnection } from "./target-connection.ts";
import type { ConnectTarget, TargetAddress } from "./target-socket.ts";
import { pathStart } from "./url-parts.ts";

/** An idle connection unused this long is closed (below the 5 s keep-alive of Node and most servers). */
const IDLE_MS = 4000;
/** Idle connections kept per target; more are closed as they come back. */
const MAX_IDLE = 256;

/** A target origin, parsed once. */
interface Origin extends TargetAddress {
  /** The Host header: host and port as in the URL. */
  host: string;
  idle: TargetConnection[];
}

/**
 * The client's way to its target: keep-alive HTTP/1.1 connections, reused
 * last-in first-out, with the request and response bytes exactly as sent (no
 * decompression, no redirects, no header the visitor did not send but
 * `host`). A bodiless request whose reused connection turns out to have been
 * closed by the target is sent once more on a fresh one.
 */
export function createHttp1Fetch(connect: ConnectTarget): (request: TargetRequest) => Promise<TargetResponse> {
  const origins = new Map<string, Origin>();
  let sweeping: ReturnType<typeof setInterval> | undefined;

  const sweep = () => {
    const now = performance.now();
    let left = 0;
    for (const origin of origins.values()) {
      origin.idle = origin.idle.filter((connection) => {
        const keep = !connection.closed && now - connection.idleSince < IDLE_MS;
        if (!keep) connection.destroy();
        return keep;
      });
      left += origin.idle.length;
    }
    if (left === 0) {
      clearInterval(sweeping);
      sweeping = undefined;
    }
  };

  const originOf = (url: string): { origin: Origin; path: string } => {
    const slash = pathStart(url);
    if (slash < 0) throw new Error(`Request target is not a path: ${url}`);
    const key = url.slice(0, slash);
    let origin = origins.get(key);
    if (!origin) {
      const parsed = new URL(key);
      const tls = parsed.protocol === "https:";
      origin = {
        hostname: parsed.hostname.replace(/^\[|\]$/g, ""),
        port: Number(parsed.port) || (tls ? 443 : 80),
        tls,
        host: parsed.host,
        idle: [],
      };
      origins.set(key, origin);
    }
    return { origin, path: url.slice(slash) };
  };

  const release = (origin: Origin) => (connection: TargetConnection, reusable: boolean) => {
    if (!reusable) {
      const at = origin.idle.indexOf(connection);
      if (at >= 0) origin.idle.splice(at, 1);
      return;
    }
    if (origin.idle.length >= MAX_IDLE) {
      connection.destroy();
      return;
    }
    origin.idle.push(connection);
    sweeping ??= setInterval(sweep, IDLE_MS / 2);
    // A client waiting on nothing else must still be able to exit.
    (sweeping as { unref?: () => void }).unref?.();
  };

  /** A new connection; given up (and closed once it opens) if the request is cancelled first. */
  const open = (origin: Origin, signal: AbortSignal): Promise<TargetConnection> =>
    new Promise((resolve, reject) => {
      const cancel = () => reject(new Error("Cancelled"));
      signal.addEventListener("abort", cancel, { once: true });
      connect(origin).then((socket) => {
        signal.removeEventListener("abort", cancel);
        if (signal.aborted) socket.destroy();
        else resolve(new TargetConnection(socket, release(origin)));
      }, (err) => {
        signal.removeEventListener("abort", cancel);
        reject(err);
      });
    });

  return async (request: TargetRequest): Promise<TargetResponse> => {
    if (request.signal.aborted) throw new Error("Cancelled");
    const { origin, path } = originOf(request.url);
    let length: number | undefined;
    let headers = request.headers;
    for (const [name, value] of headers) {
      if (name.length === 14 && name.toLowerCase() === "content-length") length = Number(value);
    }
    if (request.body === null && length === undefined && /^(POST|PUT|PATCH)$/i.test(request.method)) {
      // As fetch does: a bodiless POST or PUT says its length is 0 (some servers answer 411 otherwise).
      headers = [...headers, ["content-length", "0"]];
    }
    const exchange = {
      head: requestHeadBytes(request.method, path, origin.host, headers, request.body !== null && length === undefined),
      body: request.body,
      length: request.body === null ? undefined : length,
      headOnly: request.method.length === 4 && request.method.toUpperCase() === "HEAD",
      signal: request.signal,
    };
    let connection: TargetConnection | undefined;
    while ((connection = origin.idle.pop()) && connection.closed);
    if (connection) {
      try {
        return await connection.send(exchange);
      } catch (err) {
        if (!(err instanceof StaleConnection) || request.body !== null || request.signal.aborted) throw err;
      }
    }
    return await (await open(origin, request.signal)).send(exchange);
  };
}
