import { SESSION_NAME_PATTERN } from "../protocol/constants.ts";
import { authority } from "../http/url-parts.ts";

/**
 * A Host header as RFC 9110 §7.2 allows it and nothing more: a DNS name or
 * an IP literal, then an optional numeric port. Userinfo, paths, spaces and
 * quotes are refused, so what reaches a target as X-Forwarded-Host is a host.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?$/;

/** Whether a Host header value is a host name (or IP literal) with an optional numeric port. */
export function isValidHost(host: string): boolean {
  if (host.length > 255 + 6 || !HOST.test(host)) return false;
  const colon = host.lastIndexOf(":");
  return colon === -1 || host.endsWith("]") || Number(host.slice(colon + 1)) <= 65535;
}

/**
 * Whether a request URL's host is `name`, the Host header's name (ports
 * aside). They differ only for an absolute-form request naming another host,
 * which the entry refuses rather than route by one and forward the other.
 */
export function urlNamesHost(url: string, name: string): boolean {
  return hostName(authority(url)) === name;
}

/** The name part of a valid Host, lowercased, without its port. */
export function hostName(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith("[")) return lower.slice(0, lower.indexOf("]") + 1);
  const colon = lower.indexOf(":");
  return colon === -1 ? lower : lower.slice(0, colon);
}

/**
 * The session a Host names, or undefined for the control plane:
 * `<session>.<domain>` with or without a port. A Host that is not valid
 * names no session.
 */
export function sessionFromHost(host: string | null, domain: string): string | undefined {
  return host && isValidHost(host) ? sessionFromHostName(hostName(host), domain) : undefined;
}

/** The session a valid Host's name (from {@linkcode hostName}) names, or undefined for the control plane. */
export function sessionFromHostName(name: string, domain: string): string | undefined {
  if (!name.endsWith(domain) || name.length <= domain.length + 1) return undefined;
  if (name.charCodeAt(name.length - domain.length - 1) !== 46 /* . */) return undefined;
  const label = name.slice(0, name.length - domain.length - 1);
  return SESSION_NAME_PATTERN.test(label) ? label : undefined;
}
