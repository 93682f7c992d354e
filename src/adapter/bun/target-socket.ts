import type { ConnectTarget, TargetSocket } from "../../http/target-socket.ts";

/** The part of a Bun TCP socket the adapter uses. */
interface BunSocket {
  /** Bytes written now; the rest is the caller's to write again on drain. */
  write(data: Uint8Array): number;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay: boolean): boolean;
  terminate(): void;
}

interface BunConnect {
  connect(options: {
    hostname: string;
    port: number;
    tls?: { serverName?: string; rejectUnauthorized: true };
    socket: {
      handshake(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
      data(socket: BunSocket, data: Uint8Array): void;
      drain(socket: BunSocket): void;
      end(socket: BunSocket): void;
      close(socket: BunSocket, error?: Error): void;
      error(socket: BunSocket, error: Error): void;
    };
  }): Promise<BunSocket>;
}

const Bun = (globalThis as unknown as { Bun: BunConnect }).Bun;

/** Where a write stopped short: the rest of that write, then whole writes, in order. */
class TcpSocket implements TargetSocket {
  onData: (bytes: Uint8Array) => void = () => {};
  onDrain: () => void = () => {};
  onClose: (error?: Error) => void = () => {};
  socket: BunSocket | undefined;
  #queue: Uint8Array[] = [];
  #closed = false;
  #error: Error | undefined;

  write(bytes: Uint8Array): boolean {
    if (this.#closed || !this.socket) return true;
    if (this.#queue.length > 0) {
      this.#queue.push(bytes);
      return false;
    }
    const written = this.socket.write(bytes);
    if (written >= bytes.byteLength) return true;
    this.#queue.push(bytes.subarray(Math.max(written, 0)));
    return false;
  }

  pause(): void {
    if (!this.#closed) this.socket?.pause();
  }

  resume(): void {
    if (!this.#closed) this.socket?.resume();
  }

  destroy(): void {
    if (this.#closed) return;
    this.socket?.terminate();
    this.closed();
  }

  drained(): void {
    while (this.#queue.length > 0 && this.socket && !this.#closed) {
      const head = this.#queue[0];
      const written = this.socket.write(head);
      if (written < head.byteLength) {
        this.#queue[0] = head.subarray(Math.max(written, 0));
        return;
      }
      this.#queue.shift();
    }
    if (!this.#closed) this.onDrain();
  }

  failed(error: Error): void {
    this.#error ??= error;
  }

  closed(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.onClose(error ?? this.#error);
  }
}

/**
 * Bun.connect: TCP_NODELAY on, TLS verified against the system's trust store
 * (and NODE_EXTRA_CA_CERTS) for https targets.
 */
export const connectBunTarget: ConnectTarget = async ({ hostname, port, tls }) => {
  const wrapper = new TcpSocket();
  const where = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  let handshake: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const handshaken = tls ? new Promise<void>((resolve, reject) => handshake = { resolve, reject }) : undefined;
  const socket = await Bun.connect({
    hostname,
    port,
    ...(tls ? { tls: { rejectUnauthorized: true, ...(/^[0-9.]+$|:/.test(hostname) ? {} : { serverName: hostname }) } } : {}),
    socket: {
      // Nothing is written before the target's certificate is known good.
      handshake: (s, success, authorizationError) => {
        if (success && !authorizationError) return handshake?.resolve();
        handshake?.reject(new Error(`Cannot connect to ${where}: TLS certificate not trusted (${authorizationError?.message ?? "handshake failed"})`));
        s.terminate();
      },
      data: (_, data) => wrapper.onData(data),
      drain: () => wrapper.drained(),
      // The target closed its side: the connection is done (no request goes out on a half-closed one).
      end: (s) => {
        s.terminate();
        wrapper.closed();
      },
      close: (_, error) => {
        handshake?.reject(new Error(`Cannot connect to ${where}: TLS handshake failed (${error?.message ?? "connection closed"})`));
        wrapper.closed(error);
      },
      error: (_, error) => wrapper.failed(error),
    },
  }).catch((err: Error & { code?: string }) => {
    throw new Error(`Cannot connect to ${where}: ${err.code ?? err.message}`);
  });
  socket.setNoDelay(true);
  wrapper.socket = socket;
  await handshaken;
  return wrapper;
};
