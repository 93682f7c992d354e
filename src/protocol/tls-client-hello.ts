/**
 * The server name (SNI) of a TLS ClientHello, read without decrypting
 * anything (RFC 8446 §4.1.2, RFC 6066 §3): enough to route a TLS connection
 * by name and pass its bytes through untouched.
 */

/** Largest ClientHello read before routing (post-quantum key shares make them ~1.8 KiB; a record is at most 16 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024 + 5;

/** What the first bytes of a connection say. */
export type HelloRead =
  | { kind: "more" }
  | { kind: "name"; name: string }
  | { kind: "bad"; why: string };

/**
 * Reads the SNI host name from the first bytes of a connection: "more" while
 * the ClientHello is not all there yet, "bad" when these bytes are not a
 * ClientHello or name no host.
 */
export function readServerName(bytes: Uint8Array): HelloRead {
  if (bytes.byteLength < 5) return { kind: "more" };
  if (bytes[0] !== 0x16) return { kind: "bad", why: "not a TLS handshake" };
  if (bytes[1] !== 0x03) return { kind: "bad", why: "not a TLS version" };
  const recordLength = (bytes[3] << 8) | bytes[4];
  // The ClientHello is read from its first record (where every client puts the SNI extension).
  if (bytes.byteLength < 5 + Math.min(recordLength, 4)) return { kind: "more" };
  if (bytes[5] !== 0x01) return { kind: "bad", why: "not a ClientHello" };
  const helloLength = (bytes[6] << 16) | (bytes[7] << 8) | bytes[8];
  const end = 9 + helloLength;
  if (end > 5 + recordLength) return { kind: "bad", why: "ClientHello spans records" };
  if (bytes.byteLength < end) return { kind: "more" };
  const view = bytes.subarray(0, end);
  let at = 9 + 2 + 32; // version, random
  const skip = (lengthBytes: number) => {
    if (at + lengthBytes > end) throw new Error("short");
    let n = 0;
    for (let i = 0; i < lengthBytes; i++) n = (n << 8) | view[at + i];
    at += lengthBytes + n;
    if (at > end) throw new Error("short");
  };
  try {
    skip(1); // session id
    skip(2); // cipher suites
    skip(1); // compression methods
    if (at + 2 > end) return { kind: "bad", why: "no extensions (no server name)" };
    const extensionsEnd = at + 2 + ((view[at] << 8) | view[at + 1]);
    at += 2;
    while (at + 4 <= extensionsEnd && extensionsEnd <= end) {
      const type = (view[at] << 8) | view[at + 1];
      const length = (view[at + 2] << 8) | view[at + 3];
      const body = at + 4;
      if (body + length > end) break;
      if (type === 0x0000) {
        // server_name_list: length, then entries of (type, length, name); type 0 is a host name.
        let p = body + 2;
        while (p + 3 <= body + length) {
          const nameType = view[p];
          const nameLength = (view[p + 1] << 8) | view[p + 2];
          if (p + 3 + nameLength > body + length) break;
          if (nameType === 0) {
            const name = String.fromCharCode(...view.subarray(p + 3, p + 3 + nameLength)).toLowerCase();
            if (!/^[a-z0-9.-]{1,253}$/.test(name)) return { kind: "bad", why: "server name is not a host name" };
            return { kind: "name", name };
          }
          p += 3 + nameLength;
        }
        return { kind: "bad", why: "no host name in the server name extension" };
      }
      at = body + length;
    }
  } catch {
    return { kind: "bad", why: "malformed ClientHello" };
  }
  return { kind: "bad", why: "no server name (SNI): connect by the session's name" };
}
