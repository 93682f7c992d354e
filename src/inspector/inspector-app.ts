import { Hono } from "hono";
import type { CapturedBody, CapturedRequest, StoreEvent } from "./capture-store.ts";
import { bodyDisplay } from "./body-view.ts";
import { ReplayRefused, type ReplayChanges, type RequestInspector } from "./request-inspector.ts";
import { type Asset, CSS, HTML, JS, serveAsset } from "../web/static-asset.ts";
import { carriesToken, fromBrowser, type InspectorAccess, tokenCookie, tokenMatches } from "./inspector-access.ts";

/** Most live feeds at once; past it, 503. */
const MAX_LIVE_READERS = 8;
/** Events queued for one live reader before it is cut (a page that stopped reading). */
const MAX_QUEUED_EVENTS = 2000;

/** What the list shows of a request. */
export function summary(r: CapturedRequest) {
  return {
    id: r.id,
    tunnel: r.tunnel,
    time: r.time,
    method: r.method,
    path: r.path,
    status: r.status ?? null,
    durationMs: r.durationMs ?? null,
    requestBytes: r.requestBody.size,
    responseBytes: r.responseBody.size,
    complete: r.durationMs !== undefined,
    error: r.error ?? null,
    replayOf: r.replayOf ?? null,
    webSocket: r.webSocket ?? null,
    tcp: r.tcp ? { visitor: r.tcp.visitor, bytesIn: r.tcp.bytesIn, bytesOut: r.tcp.bytesOut, closed: r.tcp.closed } : null,
  };
}

function bodyDetail(body: CapturedBody, headers: [string, string][] | undefined) {
  const display = bodyDisplay(headers ?? [], body.bytes(), body.truncated);
  return { size: body.size, keptBytes: body.keptBytes, truncated: body.truncated, done: body.done, ...display };
}

/** Everything about one request. */
export function detail(r: CapturedRequest) {
  return {
    ...summary(r),
    requestHeaders: r.requestHeaders,
    requestBody: bodyDetail(r.requestBody, r.requestHeaders),
    responseHeaders: r.responseHeaders ?? null,
    responseBody: bodyDetail(r.responseBody, r.responseHeaders),
  };
}

/* Text imports with literal specifiers: read from disk from the sources, embedded by `bun build --compile`. */
const ASSETS: Record<string, Asset | undefined> = {
  "inspector.js": { load: () => import("./page/inspector.js", { with: { type: "text" } }), type: JS },
  "inspector.css": { load: () => import("./page/inspector.css", { with: { type: "text" } }), type: CSS },
  // One look for both pages: the entry dashboard's base styles.
  "dashboard.css": { load: () => import("../web/dashboard.css", { with: { type: "text" } }), type: CSS },
};
const PAGE: Asset = { load: () => import("./page/index.html", { with: { type: "text" } }), type: HTML };
// Nothing but the page's own files runs: a captured `<script>` could never execute even if shown as markup.
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
};

const encoder = new TextEncoder();

/**
 * The inspector's pages and API. Only requests whose Host names the
 * inspector itself are served (no DNS rebinding), only those that carry its
 * token (on loopback: those a browser sent); and changes (replay, clear) need a JSON body
 * from the same origin (no cross-site form posts).
 */
export function inspectorApp(inspector: RequestInspector, access: InspectorAccess): { app: Hono; close: () => void } {
  const { isOwnHost, token, scriptsWithoutToken } = access;
  const app = new Hono();
  const store = inspector.store;
  const readers = new Set<{ close: () => void }>();

  app.use("*", async (c, next) => {
    const host = (c.req.header("host") ?? "").toLowerCase();
    if (!isOwnHost(host)) return c.text(`Misdirected request: this is the tunnel2 inspector, not ${host || "an unnamed host"}\n`, 421);
    const cookie = tokenCookie(host);
    if ((!scriptsWithoutToken || fromBrowser(c.req.raw)) && !carriesToken(c.req.raw, token, cookie)) {
      if (c.req.method === "GET" && tokenMatches(c.req.query("token"), token)) {
        // The printed URL, opened: keep the token as a cookie and show the page without it in the address bar.
        return c.body(null, 303, {
          location: `/${c.req.path.replace(/^\/+/, "")}`, // "//evil.example/" would leave for another host
          "set-cookie": `${cookie}=${token}; Path=/; HttpOnly; SameSite=Strict`,
          "cache-control": "no-store",
        });
      }
      return c.text(
        "Unauthorized: this request inspector shows its requests only with its token. Open the URL its tunnel2 client printed " +
          "(Inspector  http://…/?token=…): the port you opened may be another client's. Scripts: Authorization: Bearer TOKEN\n",
        401,
      );
    }
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const origin = c.req.header("origin");
      if (origin !== undefined && (!origin.startsWith("http://") || !isOwnHost(origin.slice(7).toLowerCase()))) {
        return c.json({ error: "Cross-origin requests may not change the inspector" }, 403);
      }
      if (c.req.method === "POST" && !(c.req.header("content-type") ?? "").startsWith("application/json")) {
        return c.json({ error: "Send a JSON body (content-type: application/json)" }, 415);
      }
    }
    await next();
  });

  app.get("/", () => serveAsset(PAGE, "inspector/index.html", PAGE_HEADERS));
  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/inspector/:file", (c) => {
    const name = c.req.param("file");
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    return asset ? serveAsset(asset, `inspector/${name}`, PAGE_HEADERS) : c.text(`Not found: ${c.req.path}\n`, 404);
  });

  app.get("/api/requests", (c) => c.json(store.list().map(summary)));
  app.get("/api/requests/:id", (c) => {
    const request = store.get(Number(c.req.param("id")));
    return request ? c.json(detail(request)) : c.json({ error: `No request ${c.req.param("id")}` }, 404);
  });
  app.delete("/api/requests", (c) => {
    store.clear();
    return c.body(null, 204);
  });
  app.post("/api/requests/:id/replay", async (c) => {
    let changes: ReplayChanges = {};
    const text = await c.req.text();
    if (text.trim() !== "") {
      try {
        changes = JSON.parse(text);
      } catch {
        return c.json({ error: "The body is not JSON" }, 400);
      }
      const problem = changesProblem(changes);
      if (problem) return c.json({ error: problem }, 400);
    }
    try {
      const record = await inspector.replay(Number(c.req.param("id")), changes);
      return c.json(detail(record), record.error ? 502 : 200);
    } catch (err) {
      if (err instanceof ReplayRefused) return c.json({ error: err.message }, err.status);
      throw err;
    }
  });

  app.get("/api/live", (c) => {
    if (readers.size >= MAX_LIVE_READERS) return c.text(`Service unavailable: ${readers.size} live feeds are open\n`, 503, { "retry-after": "5" });
    let unsubscribe = () => {};
    let reader: { close: () => void };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(": tunnel2 inspector\n\n"));
        reader = {
          close: () => {
            unsubscribe();
            readers.delete(reader);
            try {
              controller.close();
            } catch {
              // already closed or cancelled
            }
          },
        };
        readers.add(reader);
        unsubscribe = store.subscribe((event: StoreEvent) => {
          if ((controller.desiredSize ?? 0) < -MAX_QUEUED_EVENTS) return reader.close();
          const data = event.type === "cleared" ? "{}" : event.type === "dropped" ? JSON.stringify({ id: event.id }) : JSON.stringify(summary(event.request));
          controller.enqueue(encoder.encode(`event: ${event.type}\ndata: ${data}\n\n`));
        });
      },
      cancel() {
        reader.close();
      },
    }, { highWaterMark: 0, size: () => 1 });
    return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" } });
  });

  return { app, close: () => [...readers].forEach((r) => r.close()) };
}

/** Why replay changes are not what the API takes, or undefined. */
function changesProblem(changes: unknown): string | undefined {
  if (typeof changes !== "object" || changes === null || Array.isArray(changes)) return "Changes are a JSON object: {method, path, headers, body}";
  const c = changes as Record<string, unknown>;
  for (const key of Object.keys(c)) if (!["method", "path", "headers", "body"].includes(key)) return `Unknown change: ${key}`;
  if (c.method !== undefined && typeof c.method !== "string") return "method is a string";
  if (c.path !== undefined && typeof c.path !== "string") return "path is a string";
  if (c.body !== undefined && typeof c.body !== "string") return "body is a string";
  if (c.headers !== undefined) {
    if (!Array.isArray(c.headers) || !c.headers.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === "string" && typeof h[1] === "string")) {
      return "headers is a list of [name, value] pairs";
    }
  }
  return undefined;
}
