/**
 * What dashboard readers that never read cost the entry:
 *   bun run bench/live-readers.ts [--runtime bun|deno] [--sessions 100]
 *     [--fill 185] [--readers 200] [--hold 20] [--busy 10]
 * Starts an entry and one client carrying `sessions` sessions (the first
 * `busy` of them with steady traffic, so their points carry figures), waits
 * `fill` seconds for the feed's history to fill (180 points), then opens
 * `readers` raw TCP connections that send `GET /api/live` and never read.
 * Prints JSON: the history's size (read once by a real reader), the entry's
 * RSS before and during the hold (MiB), and what the readers were answered.
 */
import { parseArgs } from "node:util";
import { connect, type Socket } from "node:net";
import { join } from "node:path";

const { values } = parseArgs({
  options: {
    runtime: { type: "string", default: "bun" },
    sessions: { type: "string", default: "100" },
    fill: { type: "string", default: "185" },
    readers: { type: "string", default: "200" },
    hold: { type: "string", default: "20" },
    busy: { type: "string", default: "10" },
  },
});
const ROOT = join(import.meta.dir, "..");
const sessions = Number(values.sessions);
const readers = Number(values.readers);
const procs: ReturnType<typeof Bun.spawn>[] = [];

function spawn(cmd: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  procs.push(proc);
  return proc;
}

/** Resolves with the first match of `pattern` in a process's combined output. */
async function waitFor(proc: ReturnType<typeof spawn>, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  let text = "";
  const decoder = new TextDecoder();
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${pattern}\n${text}`)), timeoutMs);
    for (const stream of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[]) {
      (async () => {
        for await (const chunk of stream) {
          text += decoder.decode(chunk, { stream: true });
          const m = text.match(pattern);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          }
        }
      })();
    }
  });
}

const rssMiB = async (pid: number) => Number((await Bun.file(`/proc/${pid}/status`).text()).match(/VmRSS:\s+(\d+)/)![1]) / 1024;

const target = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
try {
  const entryCmd = values.runtime === "bun"
    ? [process.execPath, "run", "src/server.ts"]
    : [join(ROOT, "node_modules/deno/deno"), "run", "--allow-net", "--allow-env", "--allow-read", "--unstable-no-legacy-abort", "src/server.ts"];
  const entry = spawn(entryCmd, { PORT: "0", HOSTNAME: "127.0.0.1" });
  const port = Number((await waitFor(entry, /entry listening .*address=http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    spawn([process.execPath, "run", "test/helpers/many-sessions.ts", base, `http://127.0.0.1:${target.port}`, "s", String(sessions)]),
    /sessions ready/,
    120_000,
  );
  let driving = true;
  const traffic = Array.from({ length: Math.min(Number(values.busy), sessions) }, async (_, i) => {
    const host = `s${String(i).padStart(3, "0")}.localhost:${port}`;
    while (driving) {
      await (await fetch(`${base}/`, { headers: { host } }).catch(() => new Response())).arrayBuffer().catch(() => {});
      await Bun.sleep(100);
    }
  });
  await Bun.sleep(Number(values.fill) * 1000);

  // One real reader: how big is the history a new reader starts with?
  const probe = await fetch(`${base}/api/live`);
  const reader = probe.body!.getReader();
  let historyBytes = 0;
  let received = "";
  const decoder = new TextDecoder();
  while (!received.includes("\n\n")) {
    const { value } = await reader.read();
    historyBytes += value!.byteLength;
    received += decoder.decode(value!, { stream: true });
    if (received.length > 1024) received = received.slice(-1024); // only the end matters
  }
  await reader.cancel();
  const points = await (await fetch(`${base}/api/sessions`)).json();

  await Bun.sleep(2000);
  const before = await rssMiB(entry.pid);
  const sockets: Socket[] = [];
  for (let i = 0; i < readers; i++) {
    const socket = connect(port, "127.0.0.1");
    socket.pause(); // never read: what the server sends stays in its buffers
    socket.on("error", () => {});
    socket.write(`GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
    sockets.push(socket);
  }
  const samples: number[] = [];
  for (let s = 0; s < Number(values.hold); s++) {
    await Bun.sleep(1000);
    samples.push(Math.round(await rssMiB(entry.pid)));
  }
  const peak = Math.max(...samples);
  // Now read what each reader was answered (status line), and whether the entry cut it.
  const answers = new Map<string, number>();
  await Promise.all(sockets.map((socket) =>
    new Promise<void>((resolve) => {
      let first = "";
      let finished = false;
      const done = (what: string) => {
        if (finished) return;
        finished = true;
        answers.set(what, (answers.get(what) ?? 0) + 1);
        socket.destroy();
        resolve();
      };
      socket.on("data", (d) => {
        first += d.toString("latin1");
        if (first.includes("\r\n")) done(first.slice(0, first.indexOf("\r\n")));
      });
      socket.on("close", () => done(first ? first.slice(0, 20) : "closed, nothing"));
      socket.resume();
      setTimeout(() => done("no answer in 5 s"), 5000);
    })
  ));
  driving = false;
  await Promise.all(traffic);
  console.log(JSON.stringify({
    runtime: values.runtime,
    sessions: points.sessions.length,
    historyBytes,
    readers,
    rssBeforeMiB: Math.round(before),
    rssPeakMiB: peak,
    growthMiB: Math.round(peak - before),
    rssEachSecond: samples,
    answers: Object.fromEntries(answers),
  }));
} finally {
  for (const proc of procs) proc.kill();
  target.stop(true);
}
