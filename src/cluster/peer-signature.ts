/**
 * Proof that a forwarded request comes from another entry of the cluster.
 * The signing key is derived from TUNNEL_PEER_SECRET (or TUNNEL_SECRET) with
 * a label, so it is never the key session tokens are made with. A signature
 * covers who forwards, the method, the public Host and the path, and holds
 * for a minute either way of the receiver's clock: a stranger without the
 * secret cannot use the forwarding path, and a captured signature is good
 * only for the same request, briefly.
 */

const encoder = new TextEncoder();
const LABEL = "tunnel2 peer forwarding v1";
/** How far a signature's time may be from the receiver's clock. */
export const SIGNATURE_WINDOW_MS = 60_000;

/** The fields a signature covers. */
export interface SignedRequest {
  /** The forwarding entry's instance id. */
  from: string;
  method: string;
  /** The visitor's Host (the session's public name). */
  host: string;
  /** Path and query. */
  target: string;
}

function message(request: SignedRequest, time: number): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${time}\n${request.from}\n${request.method}\n${request.host}\n${request.target}`);
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Signs and checks forwarded requests with one derived key. */
export class PeerSigner {
  #key: CryptoKey;

  private constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** A signer whose key is HMAC-SHA256(material, label). */
  static async create(material: string): Promise<PeerSigner> {
    const base = await crypto.subtle.importKey("raw", encoder.encode(material), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const derived = await crypto.subtle.sign("HMAC", base, encoder.encode(LABEL));
    const key = await crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    return new PeerSigner(key);
  }

  /** The signature header value: `<ms since epoch>.<hex HMAC>`. */
  async sign(request: SignedRequest, now = Date.now()): Promise<string> {
    return `${now}.${hex(await crypto.subtle.sign("HMAC", this.#key, message(request, now)))}`;
  }

  /** Whether `signature` signs `request` within the time window (compared in constant time by WebCrypto). */
  verify(signature: string, request: SignedRequest, now = Date.now()): Promise<boolean> {
    const match = /^(\d{1,15})\.([0-9a-f]{64})$/.exec(signature);
    if (!match) return Promise.resolve(false);
    const time = Number(match[1]);
    if (Math.abs(now - time) > SIGNATURE_WINDOW_MS) return Promise.resolve(false);
    const mac = new Uint8Array(32);
    for (let i = 0; i < 32; i++) mac[i] = parseInt(match[2].slice(i * 2, i * 2 + 2), 16);
    return crypto.subtle.verify("HMAC", this.#key, mac, message(request, time));
  }
}
