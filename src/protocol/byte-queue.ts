/**
 * Bytes received in chunks, read from the front without copying a chunk more
 * than once: a large message arriving in many chunks is joined once, when whole.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.byteLength;
  }

  /** The first `n` bytes (n ≤ length), left in the queue. */
  peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first && first.byteLength >= n) return first.subarray(0, n);
    return this.#gather(n, false);
  }

  /** Removes and returns the first `n` bytes (n ≤ length). */
  take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first.byteLength >= n) {
      if (first.byteLength === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#length -= n;
      return first.subarray(0, n);
    }
    return this.#gather(n, true);
  }

  #gather(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let offset = 0;
    let i = 0;
    while (offset < n) {
      const chunk = this.#chunks[i];
      const part = Math.min(chunk.byteLength, n - offset);
      out.set(chunk.subarray(0, part), offset);
      offset += part;
      if (!consume) i++;
      else if (part === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    if (consume) this.#length -= n;
    return out;
  }
}
