import type { ClientRuntime, LocalServer } from "../client/client-runtime.ts";
import type { CaptureLimits } from "./capture-store.ts";
import type { InspectAddress } from "../config.ts";
import { inspectorApp } from "./inspector-app.ts";
import { RequestInspector } from "./request-inspector.ts";

/** Ports tried after a taken default one. */
const MORE_PORTS = 20;

const isLoopback = (hostname: string) => hostname === "127.0.0.1" || hostname === "::1" || hostname === "localhost";

/** `[::1]` for an IPv6 address in a URL or Host header. */
const hostText = (hostname: string) => (hostname.includes(":") ? `[${hostname}]` : hostname);

/**
 * Starts the request inspector's page and API on `address` (the next free
 * port when the default is taken). On loopback it answers only Host names of
 * loopback; told to listen elsewhere, any Host on its port.
 */
export function startInspector(
  runtime: ClientRuntime,
  address: InspectAddress,
  limits: Partial<CaptureLimits> = {},
): { inspector: RequestInspector; url: string; stop: () => void } {
  const inspector = new RequestInspector(limits);
  let port = 0;
  const loopback = isLoopback(address.hostname);
  const { app, close } = inspectorApp(inspector, (host) => {
    if (!host.endsWith(`:${port}`)) return false;
    if (!loopback) return true;
    const name = host.slice(0, -`:${port}`.length);
    return name === "127.0.0.1" || name === "localhost" || name === "[::1]";
  });
  let server: LocalServer | undefined;
  const last = address.explicit ? address.port : address.port + MORE_PORTS;
  for (let candidate = address.port; !server; candidate++) {
    try {
      server = runtime.serveLocal({ hostname: address.hostname, port: candidate, fetch: (request) => app.fetch(request) });
    } catch (err) {
      const inUse = /in use|EADDRINUSE|AddrInUse/i.test(`${(err as Error).message} ${(err as { code?: string }).code ?? ""} ${(err as Error).name}`);
      if (!inUse || candidate >= last) {
        const where = `${hostText(address.hostname)}:${address.explicit ? address.port : `${address.port}-${last}`}`;
        throw new Error(`Cannot serve the request inspector on ${where}: ${inUse ? "address in use" : (err as Error).message} (choose another with --inspect ADDR:PORT, or turn it off with --no-inspect)`);
      }
    }
  }
  port = server.port;
  const shown = address.hostname === "0.0.0.0" || address.hostname === "::" ? "127.0.0.1" : address.hostname;
  return {
    inspector,
    url: `http://${hostText(shown)}:${port}`,
    stop: () => {
      close();
      server.stop();
    },
  };
}
