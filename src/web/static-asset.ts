/** A static file of a page (the entry's dashboard, the client's inspector): how to load its text, and its type. */
export interface Asset {
  /** A text import with a literal specifier: read from disk from the sources, embedded by `bun build --compile`. */
  load: () => Promise<{ default: string }>;
  type: string;
}

export const JS = "text/javascript; charset=utf-8";
export const CSS = "text/css; charset=utf-8";
export const HTML = "text/html; charset=utf-8";

const cache = new Map<string, Uint8Array<ArrayBuffer>>();

/** Serves `asset` (loaded once, then from memory) as `name`, with `headers` added; a 500 saying why when it cannot be loaded. */
export async function serveAsset(asset: Asset, name: string, headers: Record<string, string> = {}, hint = ""): Promise<Response> {
  let bytes = cache.get(name);
  if (!bytes) {
    try {
      bytes = new TextEncoder().encode((await asset.load()).default) as Uint8Array<ArrayBuffer>;
    } catch (err) {
      return new Response(`Page file ${name} cannot be loaded${hint}: ${(err as Error).message}\n`, { status: 500 });
    }
    cache.set(name, bytes);
  }
  return new Response(bytes, { headers: { "content-type": asset.type, "cache-control": "no-cache", ...headers } });
}
