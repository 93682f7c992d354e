/**
 * Which failures to reach an entry waiting cannot mend: a certificate this
 * machine does not trust, or a host name that does not resolve. The client
 * says so once and stops, as ngrok and cloudflared do, instead of retrying
 * forever.
 */
import { lookup } from "node:dns/promises";

const CERTIFICATE = /certificate|UnknownIssuer|CaUsedAsEndEntity|NotValidForName|self[- ]signed|unable to verify|CERT_|BadSignature|issuer/i;
const UNRESOLVED = /failed to lookup address|Name or service not known|ENOTFOUND|getaddrinfo|nodename nor servname/i;

/** Whether a host is an address (nothing to resolve). */
function isAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.startsWith("[");
}

/**
 * What to tell the user when `reason` (why an uplink could not connect to
 * `server`) cannot get better by waiting; undefined when retrying may help.
 * Bun says only "Failed to connect" for a name that does not resolve, so
 * then the name is looked up once here.
 */
export async function permanentFailure(reason: string, server: URL): Promise<string | undefined> {
  if (CERTIFICATE.test(reason)) {
    if (/CaUsedAsEndEntity/i.test(reason)) {
      return `The entry ${server.origin} presents a CA certificate as its own (${reason}): give the entry a leaf certificate signed by that CA (docs/configuration.md, Serving TLS yourself)`;
    }
    return `The entry ${server.origin} has a TLS certificate this machine does not trust (${reason}). ` +
      "If your own CA signed it, trust the CA: NODE_EXTRA_CA_CERTS=ca.pem (Bun) or DENO_CERT=ca.pem (Deno)";
  }
  const host = server.hostname;
  if (UNRESOLVED.test(reason)) return `The entry's host name ${host} does not resolve (${reason}): check --server`;
  if (/Failed to connect/i.test(reason) && !isAddress(host) && host !== "localhost") {
    try {
      await lookup(host);
    } catch (err) {
      if ((err as { code?: string }).code === "ENOTFOUND") return `The entry's host name ${host} does not resolve: check --server`;
    }
  }
  return undefined;
}

/**
 * A likely cause worth naming while the client waits on `server`: an
 * address that answers, but not as a tunnel2 entry's uplink endpoint (the
 * wrong scheme, or a session's address); undefined when nothing points
 * anywhere in particular.
 */
export function waitingHint(reason: string, server: URL): string | undefined {
  const other = `${server.protocol === "https:" ? "http" : "https"}://${server.host}`;
  if (server.protocol === "https:" && /WRONG_VERSION_NUMBER|wrong version number|InvalidContentType|CorruptMessage|http request/i.test(reason)) {
    return `it does not speak TLS there: if the entry has no certificate, use --server ${other}`;
  }
  if (server.protocol === "http:" && /Connection ended|Connection closed during|socket hang up|ECONNRESET|connection reset|unexpected end/i.test(reason)) {
    return `it closes the connection: if the entry serves TLS (--tls-cert), use --server ${other}`;
  }
  const status = reason.match(/Expected 101 status code: (\d{3})|status code (\d{3})|Invalid status code: (\d{3})|\b(\d{3}) (?:Bad Gateway|Not Found)/i);
  const code = status?.slice(1).find((v) => v !== undefined);
  if (code && code !== "101") {
    return `it answers HTTP ${code}, not as a tunnel2 entry: is ${server.host} a session's address? Use the entry's own (e.g. https://tunnel.example.com)`;
  }
  return undefined;
}
