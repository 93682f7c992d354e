/**
 * A TCP (or TLS) connection to the target, as each runtime adapter provides
 * it: callbacks in, methods out, so the HTTP/1.1 client above needs no
 * runtime API.
 */
export interface TargetSocket {
  /** Sends bytes (all of them, queued if need be); false once the caller should wait for `onDrain`. */
  write(bytes: Uint8Array): boolean;
  /** Stops reading (the target feels TCP backpressure) until `resume`. */
  pause(): void;
  resume(): void;
  /** Closes the connection at once; `onClose` follows. */
  destroy(): void;
  /** Bytes read; the receiver owns them (the adapter never reuses the buffer). */
  onData: (bytes: Uint8Array) => void;
  /** The bytes queued by `write` have gone out. */
  onDrain: () => void;
  /** Once, when the connection has ended: `error` unless the target closed it cleanly. */
  onClose: (error?: Error) => void;
}

export interface TargetAddress {
  hostname: string;
  port: number;
  tls: boolean;
}

/** Opens a connection; rejects with an error saying why the target cannot be reached. */
export type ConnectTarget = (address: TargetAddress) => Promise<TargetSocket>;
