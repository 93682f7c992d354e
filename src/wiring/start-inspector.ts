import type { ClientRuntime, LocalServer } from "../runtime/client-runtime.ts";
import type { CaptureLimits } from "../inspector/capture-store.ts";
import type { InspectAddress } from "../config/config.ts";
import { inspectorApp } from "../inspector/inspector-app.ts";
import { RequestInspector } from "../inspector/request-inspector.ts";
import { hostText, isLoopback, isWildcard, newToken, ownHostNames } from "../inspector/inspector-access.ts";

/** Ports tried after a taken default one. */
const MORE_PORTS = 20;

/**
 * Starts the request inspector's page and API on `address` (the next free
 * port when the default is taken). It answers only Host names of its own
 * (loopback's, its address, on a wildcard address the machine's names and
 * addresses) on its port, and only requests that carry its token (on
 * loopback: only a browser's), which `url` carries (print it once; `base`
 * is the address without it; `movedFrom`, the port that was taken).
 */
export function startInspector(
  runtime: ClientRuntime,
  address: InspectAddress,
  limits: Partial<CaptureLimits> = {},
): { inspector: RequestInspector; url: string; base: string; beyondLoopback: boolean; movedFrom: number | undefined; stop: () => void } {
  const inspector = new RequestInspector(limits);
  let port = 0;
  const names = ownHostNames(address.hostname, isWildcard(address.hostname) ? runtime.machineAddresses() : []);
  const token = newToken();
  const { app, close } = inspectorApp(inspector, {
    isOwnHost(host) {
      if (!host.endsWith(`:${port}`)) return false;
      return names.has(host.slice(0, -`:${port}`.length));
    },
    token,
    scriptsWithoutToken: isLoopback(address.hostname),
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
  const shown = isWildcard(address.hostname) ? "127.0.0.1" : address.hostname;
  const base = `http://${hostText(shown)}:${port}`;
  return {
    inspector,
    url: `${base}/?token=${token}`,
    base,
    beyondLoopback: !isLoopback(address.hostname),
    movedFrom: port === address.port || address.port === 0 ? undefined : address.port,
    stop: () => {
      close();
      server.stop();
    },
  };
}
