import type { ConnectTarget, TargetSocket } from "../../http/target-socket.ts";
import type { DenoConn, DenoNet } from "./deno.d.ts";

const Deno = (globalThis as unknown as { Deno: DenoNet }).Deno;

/** Bytes queued for writing before `write` asks its caller to wait. */
const WRITE_HIGH_WATER = 64 * 1024;
const READ_BYTES = 64 * 1024;

/** A Deno connection read in a loop (paused on request) and written through one queue. */
class ConnSocket implements TargetSocket {
  onData: (bytes: Uint8Array) => void = () => {};
  onDrain: () => void = () => {};
  onClose: (error?: Error) => void = () => {};
  #conn: DenoConn;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #waiting = false;
  #paused: { promise: Promise<void>; resolve: () => void } | undefined;
  #closed = false;
  #buffer = new Uint8Array(READ_BYTES);

  constructor(conn: DenoConn) {
    this.#conn = conn;
    this.#read();
  }

  write(bytes: Uint8Array): boolean {
    if (this.#closed) return true;
    this.#queue.push(bytes);
    this.#queued += bytes.byteLength;
    if (!this.#writing) this.#flush();
    if (this.#queued < WRITE_HIGH_WATER) return true;
    this.#waiting = true;
    return false;
  }

  pause(): void {
    if (this.#paused) return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => resolve = r);
    this.#paused = { promise, resolve };
  }

  resume(): void {
    const paused = this.#paused;
    this.#paused = undefined;
    paused?.resolve();
  }

  destroy(): void {
    this.#end(undefined);
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        let bytes = this.#queue.shift()!;
        this.#queued -= bytes.byteLength;
        while (bytes.byteLength > 0) bytes = bytes.subarray(await this.#conn.write(bytes));
      }
    } catch (err) {
      this.#end(err as Error);
    }
    this.#writing = false;
    if (this.#waiting && !this.#closed) {
      this.#waiting = false;
      this.onDrain();
    }
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        if (this.#paused) await this.#paused.promise;
        if (this.#closed) return;
        const n = await this.#conn.read(this.#buffer);
        if (n === null) break;
        // The receiver keeps what it is given: a small read is copied, a large one takes the buffer.
        if (n < READ_BYTES / 4) {
          this.onData(this.#buffer.slice(0, n));
        } else {
          this.onData(this.#buffer.subarray(0, n));
          this.#buffer = new Uint8Array(READ_BYTES);
        }
      }
      this.#end(undefined);
    } catch (err) {
      this.#end(this.#closed ? undefined : err as Error);
    }
  }

  #end(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.resume();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.onClose(error);
  }
}

/**
 * Deno.connect with TCP_NODELAY; for https targets TLS over it, checked
 * against Deno's trust store (DENO_CERT or --cert add a CA).
 */
export const connectDenoTarget: ConnectTarget = async ({ hostname, port, tls }) => {
  const tcp = await Deno.connect({ hostname, port }).catch((err: Error) => {
    throw new Error(`Cannot connect to ${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}: ${err.message}`);
  });
  tcp.setNoDelay(true);
  if (!tls) return new ConnSocket(tcp);
  const secure = await Deno.startTls(tcp, { hostname });
  // The handshake (and the certificate check) now, so that a bad certificate fails the connect with its reason.
  await secure.handshake?.().catch((err: Error) => {
    secure.close();
    throw new Error(`Cannot connect to ${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}: ${err.message}`);
  });
  return new ConnSocket(secure);
};
