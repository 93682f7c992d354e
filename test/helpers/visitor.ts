/**
 * How a visitor reaches a session: connect to 127.0.0.1 and set the Host
 * header (the system resolver does not map *.localhost to loopback).
 */
import { connect } from "node:net";

export function sessionHost(session: string, port: number): string {
  return `${session}.localhost:${port}`;
}

/** fetch() through the entry for a session. */
export function visit(port: number, session: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("host", sessionHost(session, port));
  return fetch(`http://127.0.0.1:${port}${path}`, { redirect: "manual", decompress: false, ...init, headers } as RequestInit);
}

/** Runs curl (raw bytes, no decompression) and returns status line, headers and body. */
export async function curl(args: string[]): Promise<{ code: number; head: string; body: Uint8Array; stderr: string }> {
  const proc = Bun.spawn(["curl", "-sS", "-D", "-", ...args], { stdout: "pipe", stderr: "pipe" });
  const out = new Uint8Array(await new Response(proc.stdout).arrayBuffer());
  const stderr = await new Response(proc.stderr).text();
  const code = await proc.exited;
  let split = 0;
  for (let i = 0; i + 3 < out.length; i++) {
    if (out[i] === 13 && out[i + 1] === 10 && out[i + 2] === 13 && out[i + 3] === 10) {
      split = i + 4;
      break;
    }
  }
  return { code, head: new TextDecoder().decode(out.subarray(0, split)), body: out.subarray(split), stderr };
}

/**
 * Sends raw bytes over TCP and returns everything the server answered before
 * closing (or, with `until`, as soon as the answer so far matches it).
 */
export function rawRequest(port: number, parts: (string | Uint8Array)[], gapMs = 0, afterFirst?: () => Promise<void>, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("data", (d) => {
      answer += d.toString("latin1");
      if (until?.test(answer)) {
        resolve(answer);
        socket.destroy();
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
    socket.on("connect", async () => {
      for (let i = 0; i < parts.length; i++) {
        socket.write(parts[i]);
        if (i === 0 && afterFirst) await afterFirst();
        else if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

/**
 * A download read at `rate` by curl, through the entry: the bytes it got and
 * curl's exit code (18: the transfer was cut short).
 */
export function slowDownload(port: number, session: string, bytes: number, rate: string) {
  const proc = Bun.spawn([
    "curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", "--limit-rate", rate,
    "-H", `Host: ${sessionHost(session, port)}`, `http://127.0.0.1:${port}/download?bytes=${bytes}`,
  ], { stdout: "pipe", stderr: "ignore" });
  return (async () => ({ received: Number(await new Response(proc.stdout).text()), code: await proc.exited }))();
}
