/** Joining byte chunks: one copy into one new buffer. */

/** `parts` back to back in one new buffer (`total` is their length, when the caller already counted it). */
export function joinBytes(parts: readonly Uint8Array[], total = parts.reduce((n, p) => n + p.byteLength, 0)): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** `a` and `b` in one new buffer. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  return joinBytes([a, b], a.byteLength + b.byteLength);
}

/** Bytes as a string of one Latin-1 character each (how HTTP heads are read: a ByteString). */
export function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return out;
}
