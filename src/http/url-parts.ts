/*
 * The one split of an absolute URL as the runtimes hand it over
 * (`scheme://authority/path?query`), by position rather than with `new URL`:
 * it runs for every request, and it keeps the path exactly as it was sent
 * (no normalising of dot segments or percent-encoding).
 */

/** Where the path starts in an absolute URL (after `scheme://authority`), or -1 when it has none. */
export function pathStart(url: string): number {
  return url.indexOf("/", url.indexOf("//") + 2);
}

/** The authority of an absolute URL: host and port as written. */
export function authority(url: string): string {
  const slash = pathStart(url);
  return url.slice(url.indexOf("//") + 2, slash === -1 ? url.length : slash);
}

/** The path and query of an absolute URL, as sent (origin-form); "/" when it has no path. */
export function originForm(url: string): string {
  const slash = pathStart(url);
  return slash === -1 ? "/" : url.slice(slash);
}
