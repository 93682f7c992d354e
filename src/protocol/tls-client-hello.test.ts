import { describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import net from "node:net";
import { readServerName } from "./tls-client-hello.ts";

/** The first bytes a real TLS client (node:tls) sends for `servername`. */
function clientHello(servername?: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.once("data", (data) => {
        resolve(new Uint8Array(data));
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      const tls = connect({ host: "127.0.0.1", port, ...(servername ? { servername } : {}), rejectUnauthorized: false });
      tls.on("error", () => {});
    });
    server.on("error", reject);
  });
}

describe("readServerName", () => {
  test("finds the name in a real ClientHello, asks for more when cut short", async () => {
    const hello = await clientHello("Demo.Tunnel.Test");
    expect(readServerName(hello)).toEqual({ kind: "name", name: "demo.tunnel.test" });
    expect(readServerName(hello.subarray(0, 3))).toEqual({ kind: "more" });
    expect(readServerName(hello.subarray(0, hello.byteLength - 1))).toEqual({ kind: "more" });
  });

  test("refuses what is not a ClientHello with a name", async () => {
    expect(readServerName(new TextEncoder().encode("GET / HTTP/1.1\r\n")).kind).toBe("bad");
    const noName = await clientHello();
    expect(readServerName(noName).kind).toBe("bad");
    const garbage = new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c, ...new Array(44).fill(0xff)]);
    expect(readServerName(garbage).kind).toBe("bad");
  });
});
