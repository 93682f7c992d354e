/**
 * End to end: a client given several entries (`--server A,B`) with real
 * processes. The entries here share nothing (no Redis): a visitor reaches the
 * session only through the entry its uplinks are on, which is what shows
 * where they are.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { startTarget } from "./helpers/target-server.ts";
import { command, type Runtime, runToEnd, spawnUntil, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { visit } from "./helpers/visitor.ts";
import { eventually } from "./helpers/wait.ts";

const target = startTarget();
const targetUrl = `http://127.0.0.1:${target.port}`;
afterEach(() => stopAll());
afterAll(() => target.stop());

const origin = (port: number) => `http://127.0.0.1:${port}`;

/** A loopback port nothing listens on (it was free a moment ago). */
function deadPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** How many "uplink connected" lines name the entry on `port`. */
function connectedTo(output: string, port: number): number {
  return output.split("\n").filter((line) => line.includes("uplink connected") && line.includes(`server=${origin(port)}`)).length;
}

async function status(port: number, session: string): Promise<number> {
  const r = await visit(port, session, "/echo");
  await r.arrayBuffer();
  return r.status;
}

/** Milliseconds from `since` until a visitor through the entry on `port` gets 200 (polled; at most 10 s). */
function servedAfter(since: number, port: number, session: string): Promise<number> {
  return eventually(async () => (await status(port, session)) === 200 ? Date.now() - since : undefined, 10_000, 25);
}

describe.each(["bun", "deno"] as Runtime[])("client on %s: one session, two targets", (runtime) => {
  test("a second client with another target is refused and says so; with --replica, or the same target, it shares the session", async () => {
    const other = startTarget();
    try {
      const entry = await startEntry(runtime);
      await startClient(runtime, entry, "shared", targetUrl);
      const second = await runToEnd(runtime, "src/client.ts", [
        "--server", origin(entry.port), "--session", "shared", "--token", "t", "--to", `http://127.0.0.1:${other.port}`,
      ], { TUNNEL_INSPECT: "off" });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain('Refused by the entry: Session "shared" is served by another client with another target: use --replica to share it');
      // The same target: a replica by definition.
      await startClient(runtime, entry, "shared", targetUrl);
      await startClient(runtime, entry, "shared", `http://127.0.0.1:${other.port}`, ["--replica"]);
      // The first client's 2, the same-target client's 2, the replica's 2 (the refused one's never joined);
      // a client says Forwarding at its first uplink, so the last may still be on its way.
      const uplinks = async () => (await (await fetch(`${origin(entry.port)}/api/sessions`)).json()).sessions[0].uplinks.length;
      await eventually(async () => ((await uplinks()) === 6 ? true : undefined), 5000, 50);
      await Bun.sleep(200); // and no seventh, from the refused client
      expect(await uplinks()).toBe(6);
      expect(entry.output()).toContain("uplink refused");
    } finally {
      other.stop();
    }
  }, 30_000);
});

describe.each(["bun", "deno"] as Runtime[])("client on %s, before its entry", (runtime) => {
  test("started before its entry: says once that it waits, and serves about a second after the entry comes up", async () => {
    const port = deadPort();
    const client = await spawnUntil(
      [...command(runtime, "src/client.ts"), "--server", origin(port), "--session", "early", "--token", "t", "--to", targetUrl],
      {},
      /waiting for the entry at http:\/\/127\.0\.0\.1:\d+ to answer; retrying every second until it does/,
    );
    const entry = await startEntry(runtime, { PORT: String(port) });
    const ms = await servedAfter(Date.now(), entry.port, "early");
    console.log(`client on ${runtime}: first 200 ${ms} ms after the entry said it listens`);
    expect(client.output().match(/waiting for the entry/g)?.length).toBe(1);
    expect(client.output()).not.toContain("cannot connect to the entry, retrying");
  }, 30_000);

  test("a name that does not resolve: said once with what to check, exit 1", async () => {
    const run = await runToEnd(runtime, "src/client.ts", ["--server", "http://no-such-host.invalid:8080", "--session", "s", "--token", "t", "--to", targetUrl], { TUNNEL_INSPECT: "off" });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("The entry's host name no-such-host.invalid does not resolve");
    expect(run.stderr).toContain("check --server");
  }, 20_000);
});

describe.each(["bun", "deno"] as Runtime[])("client on %s", (runtime) => {
  test("a name that does not resolve, then a live entry: the bad name is passed over and the tunnel serves", async () => {
    const live = await startEntry(runtime);
    const client = await startClient(runtime, `http://no-such-host.invalid:8080,${origin(live.port)}`, "skips-bad", targetUrl);
    expect(await status(live.port, "skips-bad")).toBe(200);
    expect(client.proc.exitCode).toBeNull();
    expect(client.output()).not.toContain("does not resolve: check --server");
  }, 30_000);

  test("first server a dead port, second a live entry: the uplinks go on to the second and serve", async () => {
    const dead = deadPort();
    const live = await startEntry(runtime);
    const client = await startClient(runtime, `${origin(dead)},${origin(live.port)}`, "second", targetUrl);
    // The URL printed is the one the live entry announced.
    expect(client.url).toBe(`http://second.localhost:${live.port}`);
    expect(await status(live.port, "second")).toBe(200);
    await eventually(() => connectedTo(client.output(), live.port) === 2 || undefined, 5000);
    expect(client.output()).toContain("cannot connect to the entry, retrying");
    expect(client.output()).toContain(`server=${origin(dead)} next=${origin(live.port)}`);
  }, 30_000);

  test("kill -9 of the entry the uplinks are on: they move to the next, and a visitor there is served", async () => {
    const [a, b] = await Promise.all([startEntry(runtime), startEntry(runtime)]);
    const client = await startClient(runtime, `${origin(a.port)},${origin(b.port)}`, "hop", targetUrl);
    expect(client.url).toBe(`http://hop.localhost:${a.port}`);
    await eventually(() => connectedTo(client.output(), a.port) === 2 || undefined, 5000);
    expect(await status(a.port, "hop")).toBe(200);
    // B has never seen the session: every uplink started on A.
    expect(await status(b.port, "hop")).toBe(502);

    const killedAt = Date.now();
    a.proc.kill("SIGKILL");
    const ms = await servedAfter(killedAt, b.port, "hop");
    console.log(`[client on ${runtime}] kill -9 of entry A -> first 200 through entry B after ${ms} ms`);
    // Detecting the loss is immediate (the socket closes); the wait is one backoff step 0, under 500 ms.
    expect(ms).toBeLessThan(3000);
    await eventually(() => connectedTo(client.output(), b.port) === 2 || undefined, 5000);
    expect(client.output()).toContain(`uplink lost, reconnecting`);
    expect(client.output()).toContain(`server=${origin(a.port)} next=${origin(b.port)}`);
    expect(await a.proc.exited).not.toBe(0);
  }, 30_000);

  test("the entry drains (go-away): new uplinks open on the next entry while the old ones finish", async () => {
    const [a, b] = await Promise.all([startEntry(runtime, { DRAIN_TIMEOUT_MS: "5000" }), startEntry(runtime)]);
    const client = await startClient(runtime, `${origin(a.port)},${origin(b.port)}`, "drained", targetUrl);
    await eventually(() => connectedTo(client.output(), a.port) === 2 || undefined, 5000);
    const slow = visit(a.port, "drained", "/slow-head?ms=1000").then(async (r) => ({ status: r.status, body: await r.text() }));
    await Bun.sleep(200);
    const termAt = Date.now();
    a.proc.kill("SIGTERM");
    const ms = await servedAfter(termAt, b.port, "drained");
    console.log(`[client on ${runtime}] SIGTERM of entry A -> first 200 through entry B after ${ms} ms`);
    expect(ms).toBeLessThan(3000);
    // The request in flight on A still finished there.
    expect(await slow).toEqual({ status: 200, body: "late" });
    expect(client.output()).toContain("entry going away, opening a new uplink");
    await eventually(() => connectedTo(client.output(), b.port) === 2 || undefined, 5000);
    expect(await a.proc.exited).toBe(0);
  }, 30_000);
});
