import type { ClientRuntime, LocalServeOptions } from "../../runtime/client-runtime.ts";
import type { DenoGlobal } from "./deno.d.ts";
import { createHttp1Fetch } from "../../http/target-pool.ts";
import { NoDelayWebSocket } from "./no-delay-web-socket.ts";
import { connectDenoTarget } from "./target-socket.ts";
import { machineAddresses } from "../../runtime/machine-addresses.ts";

/**
 * The client on Deno: uplinks over {@linkcode NoDelayWebSocket}, and
 * keep-alive HTTP/1.1 over Deno.connect to the target. Deno's `fetch` would
 * decompress bodies it asked to be compressed and refuses the Fetch
 * standard's "bad ports"; raw HTTP/1.1 passes the target's bytes and serves
 * any port.
 */
export const denoClientRuntime: ClientRuntime = {
  name: "deno",
  openWebSocket: (url, headers) => new NoDelayWebSocket(url, headers),
  createTargetFetch: () => createHttp1Fetch(connectDenoTarget),
  // Only what --allow-sys grants: asking would prompt on a terminal.
  machineAddresses: () => {
    const Deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;
    return machineAddresses((kind) => Deno.permissions.querySync({ name: "sys", kind }).state === "granted");
  },
  serveLocal({ hostname, port, fetch }: LocalServeOptions) {
    const Deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;
    const server = Deno.serve({ hostname, port, onListen() {} }, fetch);
    return { port: server.addr.port, stop: () => void server.shutdown() };
  },
};
