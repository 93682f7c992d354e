/**
 * Session tokens: HMAC-SHA256(secret, session name) as lowercase hex. The
 * entry checks them with `crypto.subtle.verify`, which compares in constant
 * time, so a wrong token reveals nothing of the right one.
 */

const encoder = new TextEncoder();

function importKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

/** The token of `session` under `secret`. */
export async function sessionToken(secret: string, session: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await importKey(secret, "sign"), encoder.encode(session));
  return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A verifier bound to one secret; the key is imported once. */
export class SessionTokenVerifier {
  #key: Promise<CryptoKey>;

  constructor(secret: string) {
    this.#key = importKey(secret, "verify");
  }

  /** Whether `token` is the token of `session`. */
  async verify(session: string, token: string): Promise<boolean> {
    if (!/^[0-9a-f]{64}$/.test(token)) return false;
    const mac = new Uint8Array(32);
    for (let i = 0; i < 32; i++) mac[i] = parseInt(token.slice(i * 2, i * 2 + 2), 16);
    return crypto.subtle.verify("HMAC", await this.#key, mac, encoder.encode(session));
  }
}
