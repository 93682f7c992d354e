import type { HeaderList } from "../protocol/head.ts";

const DOMAIN_ATTRIBUTE = /^\s*domain\s*=\s*\.?([^;]*?)\s*$/i;

/**
 * A target's Set-Cookie headers held to its own session: a `Domain`
 * attribute that reaches beyond `host` (the tunnel domain itself, or a
 * sibling session) is removed, so the cookie stays host-only; a Domain of
 * the session's host or below it is kept. Other headers pass unchanged.
 */
export function scopeCookies(headers: HeaderList, host: string): HeaderList {
  let out: HeaderList | undefined;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    const scoped = name.length === 10 && name.toLowerCase() === "set-cookie" && /domain/i.test(value)
      ? scopeCookie(value, host)
      : value;
    if (scoped === value) {
      out?.push(headers[i]);
    } else {
      out ??= headers.slice(0, i);
      out.push([name, scoped]);
    }
  }
  return out ?? headers;
}

function scopeCookie(cookie: string, host: string): string {
  const parts = cookie.split(";");
  const kept = [parts[0]];
  for (const attribute of parts.slice(1)) {
    const domain = attribute.match(DOMAIN_ATTRIBUTE)?.[1].toLowerCase();
    if (domain !== undefined && domain !== host && !domain.endsWith(`.${host}`)) continue;
    kept.push(attribute);
  }
  return kept.length === parts.length ? cookie : kept.join(";");
}
