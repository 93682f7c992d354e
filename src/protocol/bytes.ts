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
