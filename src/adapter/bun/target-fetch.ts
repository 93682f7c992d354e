import type { ClientRuntime, TargetRequest, TargetResponse, UplinkWebSocket } from "../../client/client-runtime.ts";
import { headerList } from "../../protocol/end-to-end-headers.ts";
import { createHttp1Fetch } from "../../client/http1/target-pool.ts";
import { connectBunTarget } from "./target-socket.ts";
import process from "node:process";

/**
 * Bun's `fetch` with `decompress: false`, so the visitor gets the target's
 * bytes and its Content-Encoding/Content-Length unchanged. Bun itself caps
 * concurrent fetches (BUN_CONFIG_MAX_HTTP_REQUESTS); the client's limiter
 * bounds them to `maxConnections` below that.
 */
export const bunClientRuntime: ClientRuntime = {
  name: "bun",
  // Bun's client WebSocket sets TCP_NODELAY and never drops a message.
  openWebSocket: (url) => new WebSocket(url) as unknown as UplinkWebSocket,
  createTargetFetch() {
    if (process.env.TUNNEL2_AB !== "fetch") return createHttp1Fetch(connectBunTarget);
    return async (request: TargetRequest): Promise<TargetResponse> => {
      const init = {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: request.signal,
        redirect: "manual",
        decompress: false,
        duplex: "half",
      } as RequestInit;
      const response = await fetch(request.url, init);
      return {
        status: response.status,
        headers: headerList(response.headers),
        body: response.body,
        bytes: () => response.bytes() as Promise<Uint8Array<ArrayBuffer>>,
      };
    };
  },
};
