import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import type { ClientRuntime, TargetRequest, TargetResponse } from "../../client/client-runtime.ts";
import { joinBytes } from "../../protocol/bytes.ts";
import { headerList } from "../../protocol/end-to-end-headers.ts";
import type { HeaderList } from "../../protocol/head.ts";
import { NoDelayWebSocket } from "./no-delay-web-socket.ts";
import { createHttp1Fetch } from "../../client/http1/target-pool.ts";
import { connectDenoTarget } from "./target-socket.ts";
import process from "node:process";

/** Pairs from Node's flat rawHeaders list, names as the target wrote them. */
function pairs(raw: string[]): HeaderList {
  const list: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) list.push([raw[i].toLowerCase(), raw[i + 1]]);
  return list;
}

/** The request's Content-Length, if it has one (the forwarder has checked there is at most one). */
function declaredLength(headers: HeaderList): number | undefined {
  for (const [name, value] of headers) if (name.toLowerCase() === "content-length") return Number(value);
  return undefined;
}

/** Reads a whole (small) response without web-stream machinery. */
function readAll(incoming: http.IncomingMessage): Promise<Uint8Array<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    incoming.on("data", (part: Uint8Array) => parts.push(part));
    incoming.on("end", () => {
      if (!incoming.complete) return reject(new Error("Target closed the body early"));
      resolve(joinBytes(parts));
    });
    incoming.on("error", reject);
    incoming.on("aborted", () => reject(new Error("Target aborted the body")));
  });
}

/**
 * Writes a web stream into a Node request, honouring its backpressure. With
 * a declared `length`, exactly that many bytes go out or the request is
 * destroyed (its connection closed, never reused): node:http itself sends
 * whatever it is given after its Content-Length, which the target would read
 * as the next request.
 */
async function pump(
  body: ReadableStream<Uint8Array>,
  request: http.ClientRequest,
  length: number | undefined,
  fail: (err: Error) => void,
): Promise<void> {
  const reader = body.getReader();
  let sent = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      sent += value.byteLength;
      if (length !== undefined && sent > length) throw new Error(`Request body longer than its Content-Length of ${length}`);
      if (!request.write(value)) {
        await new Promise<void>((resolve) => {
          // Both listeners go once either fires: a long upload waits many times.
          const done = () => {
            request.off("drain", done);
            request.off("close", done);
            resolve();
          };
          request.once("drain", done);
          request.once("close", done);
        });
      }
      if (request.destroyed) throw new Error("Target request closed");
    }
    if (length !== undefined && sent !== length) throw new Error(`Request body of ${sent} bytes, its Content-Length is ${length}`);
    request.end();
  } catch (err) {
    reader.cancel(err).catch(() => {});
    fail(err as Error);
  }
}

/**
 * Deno's `fetch`, asking for gzip/br by itself, decompresses bodies and keeps
 * the original Content-Encoding/Content-Length headers, which would lie to the
 * visitor. So requests whose visitor accepts encodings, and requests with
 * bodies, go through `node:http` with a keep-alive agent (raw bytes, a bounded
 * pool); the rest through `fetch` told `accept-encoding: identity`.
 */
export const denoClientRuntime: ClientRuntime = {
  name: "deno",
  openWebSocket: (url) => new NoDelayWebSocket(url),
  createTargetFetch(maxConnections: number) {
    if (process.env.TUNNEL2_AB !== "fetch") return createHttp1Fetch(connectDenoTarget);
    const agents = {
      "http:": new http.Agent({ keepAlive: true, maxSockets: maxConnections }),
      "https:": new https.Agent({ keepAlive: true, maxSockets: maxConnections }),
    };
    // fetch refuses the ports of the Fetch standard's "bad port" list (9, 6000, 6667…): node:http serves those.
    let fetchAllowed = true;
    const viaNodeHttp = (request: TargetRequest): Promise<TargetResponse> =>
      new Promise((resolve, reject) => {
        const url = new URL(request.url);
        const protocol = url.protocol as "http:" | "https:";
        const outgoing = (protocol === "https:" ? https : http).request({
          protocol,
          hostname: url.hostname.replace(/^\[|\]$/g, ""),
          port: url.port,
          path: url.pathname + url.search,
          method: request.method,
          headers: request.headers.reduce<Record<string, string | string[]>>((acc, [name, value]) => {
            const prior = acc[name];
            acc[name] = prior === undefined ? value : ([] as string[]).concat(prior, value);
            return acc;
          }, {}),
          agent: agents[protocol],
          signal: request.signal,
        }, (incoming) => {
          let body: ReadableStream<Uint8Array> | undefined;
          resolve({
            status: incoming.statusCode ?? 502,
            headers: pairs(incoming.rawHeaders),
            get body() {
              return body ??= Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>;
            },
            bytes: () => readAll(incoming),
          });
        });
        // Deno's node:http, destroying a request on a reused keep-alive socket, may
        // never emit "error" nor "close" (seen on 2.9.6): that would hold the
        // forwarder's slot for good. So a failed upload or an abort settles here,
        // and the socket itself is destroyed (never reused with a partial body).
        const fail = (err: Error) => {
          reject(err);
          outgoing.destroy(err);
          outgoing.socket?.destroy();
        };
        outgoing.on("error", reject);
        request.signal.addEventListener("abort", () => fail(new Error("Cancelled")), { once: true });
        if (request.body) pump(request.body, outgoing, declaredLength(request.headers), fail);
        else outgoing.end();
      });
    return async (request: TargetRequest): Promise<TargetResponse> => {
      if (!fetchAllowed || request.body || request.headers.some(([name]) => name.toLowerCase() === "accept-encoding")) {
        return await viaNodeHttp(request);
      }
      try {
        return await viaFetch(request);
      } catch (err) {
        if (!/port \d+ are blocked/i.test((err as Error).message)) throw err;
        fetchAllowed = false;
        return await viaNodeHttp(request);
      }
    };
  },
};

/**
 * Deno's own `fetch` (faster than node:http here), for requests without a body
 * whose visitor asked for no encoding: told `accept-encoding: identity`, it
 * leaves the body alone (it decodes only what it asked for itself), so the
 * visitor gets the target's bytes and headers as they are.
 */
async function viaFetch(request: TargetRequest): Promise<TargetResponse> {
  const response = await fetch(request.url, {
    method: request.method,
    headers: [...request.headers, ["accept-encoding", "identity"]],
    redirect: "manual",
    signal: request.signal,
  });
  return {
    status: response.status,
    headers: headerList(response.headers),
    body: response.body,
    bytes: async () => new Uint8Array(await response.arrayBuffer()),
  };
}
