/**
 * The fair ceiling for a two-hop tunnel: a plain `fetch` reverse proxy on Bun,
 * one hop, same target. PORT and TARGET from the environment.
 */
const target = process.env.TARGET ?? "http://127.0.0.1:3000";
const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: "127.0.0.1",
  async fetch(req) {
    const url = new URL(req.url);
    const res = await fetch(target + url.pathname + url.search, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: "manual",
      decompress: false,
    } as RequestInit);
    return new Response(res.body, { status: res.status, headers: res.headers });
  },
});
console.log(`proxy listening on ${server.port}`);
