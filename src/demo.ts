/**
 * The quick start: a demo target on :3000, the entry on :8080 and a client
 * for session "demo", all on loopback. Then open http://demo.localhost:8080/.
 * `npm start` runs it under Bun; `deno run -A src/demo.ts` under Deno.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import process from "node:process";

const ENTRY_PORT = Number(process.env.PORT ?? 8080);
const TARGET_PORT = Number(process.env.DEMO_TARGET_PORT ?? 3000);
const runtime = (globalThis as { Bun?: unknown }).Bun ? "bun" : "deno";
const here = new URL(".", import.meta.url).pathname;

/** Text for HTML: what a visitor put in the URL or a header is shown, never run. */
const html = (text: unknown) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const target = createServer((req, res) => {
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.end(`<!doctype html><title>tunnel2 demo</title><h1>Hello through tunnel2</h1>
<p>${html(req.method)} ${html(req.url)} at ${new Date().toISOString()}</p>
<p>X-Forwarded-For: ${html(req.headers["x-forwarded-for"] ?? "-")}, X-Forwarded-Host: ${html(req.headers["x-forwarded-host"] ?? "-")}</p>\n`);
});
await new Promise<void>((resolve) => {
  target.on("error", (err) => {
    console.error(`Demo target cannot listen on 127.0.0.1:${TARGET_PORT}: ${err.message} (set DEMO_TARGET_PORT)`);
    process.exit(1);
  });
  target.listen(TARGET_PORT, "127.0.0.1", resolve);
});

function run(script: string, args: string[], env: Record<string, string> = {}) {
  const cmd = runtime === "bun"
    ? [process.execPath, "run", `${here}${script}`, ...args]
    : [process.execPath, "run", "-A", "--unstable-no-legacy-abort", `${here}${script}`, ...args];
  const child = spawn(cmd[0], cmd.slice(1), { stdio: "inherit", env: { MIMALLOC_PURGE_DELAY: "-1", ...process.env, PORT: String(ENTRY_PORT), ...env } });
  child.on("exit", (code) => {
    if (code !== null && code !== 0) {
      // At once: a client left to stop gently could still reach whatever else holds the port.
      client.kill("SIGKILL");
      console.error(script === "server.ts"
        ? `The demo's entry could not start on :${ENTRY_PORT} (see above): stop what uses the port, or set PORT (e.g. PORT=8081 npm start)`
        : `${script} exited with ${code}`);
      shutdown(code);
    }
  });
  return child;
}

const entry = run("server.ts", []);
// No wait for the entry: a client started first retries every second until it answers.
// The token goes through the environment, never a command line that ps shows.
const client = run("client.ts", [
  "--server", `http://127.0.0.1:${ENTRY_PORT}`,
  "--session", "demo",
  "--to", `http://127.0.0.1:${TARGET_PORT}`,
], { TUNNEL_TOKEN: process.env.TUNNEL_TOKEN ?? "demo" });
console.log(`Demo: target on http://127.0.0.1:${TARGET_PORT}; try  curl http://demo.localhost:${ENTRY_PORT}/`);

function shutdown(code = 0) {
  client.kill();
  entry.kill();
  target.close();
  process.exit(code);
}
process.on("SIGINT", () => shutdown());
process.on("SIGTERM", () => shutdown());
