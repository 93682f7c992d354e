/**
 * Proof that a forwarded request comes from another entry of the cluster.
 * The signing key is derived from TUNNEL_PEER_SECRET (or TUNNEL_SECRET) with
 * a label, so it is never the key session tokens are made with. A signature
 * covers who forwards, the method, the public Host, the path and the
 * visitor's address chain, and holds for 30 s (5 s ahead of the receiver's
 * clock at most): a stranger without the secret cannot use the forwarding
 * path. Someone who can watch the traffic between entries could replay a
 * captured request within that time: peer URLs belong on a private network
 * (Fly's 6PN, a compose network), or use https.
 */

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

const LABEL = "tunnel2 peer forwarding v1";
/** How old a signature may be, and how far ahead of the receiver's clock (clocks of one deployment agree closely). */
export const SIGNATURE_MAX_AGE_MS = 30_000;
export const SIGNATURE_MAX_AHEAD_MS = 5_000;

/** The fields a signature covers. */
export interface SignedRequest {
  /** The forwarding entry's instance id. */
  from: string;
  method: string;
  /** The visitor's Host (the session's public name). */
  host: string;
  /** Path and query. */
  target: string;
  /** The X-Forwarded-For the target is to see. */
  forwardedFor: string;
}

/**
 * Signs and checks forwarded requests with one derived key. node:crypto's
 * HMAC (in Bun and Deno alike) rather than WebCrypto: it answers at once,
 * where `crypto.subtle` goes to a worker thread and back on every request,
 * which was an eighth of a forwarding Deno entry's CPU.
 */
export class PeerSigner {
  #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /** A signer whose key is HMAC-SHA256(material, label). */
  static create(material: string): PeerSigner {
    return new PeerSigner(createHmac("sha256", material).update(LABEL).digest());
  }

  #mac(request: SignedRequest, time: number): string {
    return createHmac("sha256", this.#key)
      .update(`${time}\n${request.from}\n${request.method}\n${request.host}\n${request.target}\n${request.forwardedFor}`)
      .digest("hex");
  }

  /** The signature header value: `<ms since epoch>.<hex HMAC>`. */
  sign(request: SignedRequest, now = Date.now()): string {
    return `${now}.${this.#mac(request, now)}`;
  }

  /** Whether `signature` signs `request` within the time window (compared in constant time). */
  verify(signature: string, request: SignedRequest, now = Date.now()): boolean {
    const match = /^(\d{1,15})\.([0-9a-f]{64})$/.exec(signature);
    if (!match) return false;
    const time = Number(match[1]);
    if (now - time > SIGNATURE_MAX_AGE_MS || time - now > SIGNATURE_MAX_AHEAD_MS) return false;
    return timingSafeEqual(Buffer.from(match[2], "latin1"), Buffer.from(this.#mac(request, time), "latin1"));
  }
}
