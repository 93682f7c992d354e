/**
 * A target that speaks HTTP/1.1 by hand over node:net: keep-alive, bodies
 * framed by Content-Length or chunked exactly as a strict server reads them,
 * and answers no runtime's HTTP server would send (raw UTF-8 and control
 * bytes in header values). It records every request it parsed, so a test
 * can tell when bytes meant as a body were read as a request.
 */
import { createServer, type Socket } from "node:net";

export interface SeenRequest {
  method: string;
  target: string;
  headers: [string, string][];
  body: string;
  connection: number;
}

/** Latin-1 string → bytes, one byte per character. */
const bytes = (s: string) => Buffer.from(s, "latin1");

function answer(socket: Socket, status: string, headers: string[], body: string): void {
  const head = [`HTTP/1.1 ${status}`, ...headers, `content-length: ${Buffer.byteLength(body, "latin1")}`, "", ""].join("\r\n");
  socket.write(Buffer.concat([bytes(head), bytes(body)]));
}

/** What the raw target answers at each path; anything else echoes the path. */
function respond(socket: Socket, request: SeenRequest): void {
  const path = request.target.split("?")[0];
  switch (path) {
    case "/ws-refuse":
      // UTF-8 bytes in a header value, as a Node or Python target sends them.
      return answer(socket, "403 Forbidden", [`x-reason: ${Buffer.from("refusé ☃").toString("latin1")}`], "no");
    case "/utf8-header":
      return answer(socket, "200 OK", [`x-name: ${Buffer.from("café ☃").toString("latin1")}`, "x-fine: yes"], "utf8");
    case "/control-header":
      return answer(socket, "200 OK", ["x-control: a\x01b", "x-fine: yes"], "control");
    case "/cookie-domain": {
      const host = new URL(`http://${request.headers.find(([n]) => n === "x-forwarded-host")?.[1] ?? "x"}`).hostname;
      return answer(socket, "200 OK", [
        "set-cookie: wide=1; Domain=localhost; Path=/",
        "set-cookie: wide2=1; Path=/; domain=.LOCALHOST",
        `set-cookie: own=1; Domain=${host}; Path=/`,
        "set-cookie: plain=1; Path=/",
      ], "cookies");
    }
    case "/chunked-and-length": {
      // Chunked framing with a stale Content-Length: the body is 100 000 bytes, the length says 10.
      const body = "x".repeat(100_000);
      socket.write(bytes(`HTTP/1.1 200 OK\r\ncontent-length: 10\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`));
      return;
    }
    case "/slow":
      setTimeout(() => answer(socket, "200 OK", [], path), 1500);
      return;
    default:
      return answer(socket, "200 OK", ["content-type: text/plain"], request.target);
  }
}

/** Parses requests off one connection as they complete; returns false when the bytes make no sense. */
function parse(buffer: Buffer, onRequest: (request: Omit<SeenRequest, "connection">) => void): { rest: Buffer; ok: boolean } {
  for (;;) {
    const end = buffer.indexOf("\r\n\r\n");
    if (end === -1) return { rest: buffer, ok: true };
    const lines = buffer.subarray(0, end).toString("latin1").split("\r\n");
    const [method, target, version] = lines[0].split(" ");
    if (!version?.startsWith("HTTP/1.")) return { rest: Buffer.alloc(0), ok: false };
    const headers = lines.slice(1).map((l) => {
      const colon = l.indexOf(":");
      return [l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim()] as [string, string];
    });
    let offset = end + 4;
    let body = "";
    const chunked = headers.some(([n, v]) => n === "transfer-encoding" && /chunked/i.test(v));
    if (chunked) {
      for (;;) {
        const lineEnd = buffer.indexOf("\r\n", offset);
        if (lineEnd === -1) return { rest: buffer, ok: true };
        const size = parseInt(buffer.subarray(offset, lineEnd).toString("latin1"), 16);
        if (buffer.length < lineEnd + 2 + size + 2) return { rest: buffer, ok: true };
        body += buffer.subarray(lineEnd + 2, lineEnd + 2 + size).toString("latin1");
        offset = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      const length = Number(headers.find(([n]) => n === "content-length")?.[1] ?? 0);
      if (buffer.length < offset + length) return { rest: buffer, ok: true };
      body = buffer.subarray(offset, offset + length).toString("latin1");
      offset += length;
    }
    onRequest({ method, target, headers, body });
    buffer = buffer.subarray(offset);
  }
}

/** Starts the raw target on a free loopback port. */
export async function startRawTarget(): Promise<{ port: number; seen: SeenRequest[]; stop(): void }> {
  const seen: SeenRequest[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      const parsed = parse(Buffer.concat([buffer, chunk]), (request) => {
        const full = { ...request, connection };
        seen.push(full);
        respond(socket, full);
      });
      buffer = parsed.rest;
      if (!parsed.ok) socket.destroy();
    });
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    seen,
    stop() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
