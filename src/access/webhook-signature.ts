import { createHmac, type Hmac } from "node:crypto";
import { constantTimeEqual } from "./constant-time.ts";

/** How far a signed timestamp (Stripe's `t=`, Slack's) may be from now. */
export const WEBHOOK_TOLERANCE_MS = 5 * 60_000;

/** The providers whose signatures the entry checks; `hmac-sha256:HEADER` is any sender that signs the body alone. */
export type WebhookProvider = "github" | "stripe" | "slack" | { header: string };

/** Reads `github`, `stripe`, `slack` or `hmac-sha256:HEADER`; throws Error saying what is taken. */
export function parseWebhookProvider(raw: string): WebhookProvider {
  const text = raw.trim();
  if (text === "github" || text === "stripe" || text === "slack") return text;
  const generic = /^hmac-sha256:([!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100})$/i.exec(text);
  if (generic) return { header: generic[1].toLowerCase() };
  throw new Error(`${JSON.stringify(text.slice(0, 60))} is not a webhook provider (expected github, stripe, slack or hmac-sha256:HEADER)`);
}

/** A provider as written: `github`, `hmac-sha256:x-signature`. */
export function providerName(provider: WebhookProvider): string {
  return typeof provider === "string" ? provider : `hmac-sha256:${provider.header}`;
}

/** One request's check under way: the body is fed as it arrives, then `verified()` says whether the signature holds. */
export interface WebhookVerification {
  update(chunk: Uint8Array): void;
  verified(): boolean;
}

const HEX_64 = /^[0-9a-f]{64}$/i;
const encoder = new TextEncoder();

function hexBytes(hex: string): Uint8Array {
  return encoder.encode(hex.toLowerCase());
}

/** What a request's headers claim: the digests it may match, and what the signed text starts with. */
interface Claim {
  prefix: string;
  digests: Uint8Array[];
}

/**
 * Checks the signature a webhook sender puts on a request: HMAC-SHA256 of
 * the body (after a timestamp for Stripe and Slack) with the shared secret.
 */
export class WebhookCheck {
  readonly provider: WebhookProvider;
  #secret: string;
  #now: () => number;

  constructor(provider: WebhookProvider, secret: string, now: () => number = Date.now) {
    this.provider = provider;
    this.#secret = secret;
    this.#now = now;
  }

  /** Starts checking a request: the verification to feed its body, or why its headers already fail. */
  begin(headers: Headers): WebhookVerification | string {
    const claim = this.#claim(headers);
    if (typeof claim === "string") return claim;
    const hmac: Hmac = createHmac("sha256", this.#secret);
    if (claim.prefix) hmac.update(claim.prefix);
    return {
      update: (chunk) => void hmac.update(chunk),
      verified: () => {
        const actual = hexBytes(hmac.digest("hex"));
        let ok = false;
        for (const digest of claim.digests) ok = constantTimeEqual(actual, digest) || ok;
        return ok;
      },
    };
  }

  #fresh(seconds: string): boolean {
    if (!/^\d{1,12}$/.test(seconds)) return false;
    return Math.abs(this.#now() - Number(seconds) * 1000) <= WEBHOOK_TOLERANCE_MS;
  }

  #claim(headers: Headers): Claim | string {
    const provider = this.provider;
    if (provider === "github") {
      const value = headers.get("x-hub-signature-256")?.trim() ?? "";
      const hex = value.startsWith("sha256=") ? value.slice(7) : "";
      return HEX_64.test(hex) ? { prefix: "", digests: [hexBytes(hex)] } : "no valid X-Hub-Signature-256 header";
    }
    if (provider === "stripe") {
      const value = headers.get("stripe-signature") ?? "";
      let t: string | undefined;
      const digests: Uint8Array[] = [];
      for (const part of value.split(",").slice(0, 16)) {
        const eq = part.indexOf("=");
        const [key, v] = [part.slice(0, eq).trim(), part.slice(eq + 1).trim()];
        if (key === "t") t = v;
        else if (key === "v1" && HEX_64.test(v)) digests.push(hexBytes(v));
      }
      if (t === undefined || digests.length === 0) return "no valid Stripe-Signature header (t= and v1=)";
      if (!this.#fresh(t)) return "the Stripe-Signature timestamp is more than 5 minutes from now";
      return { prefix: `${t}.`, digests };
    }
    if (provider === "slack") {
      const value = headers.get("x-slack-signature")?.trim() ?? "";
      const ts = headers.get("x-slack-request-timestamp")?.trim() ?? "";
      const hex = value.startsWith("v0=") ? value.slice(3) : "";
      if (!HEX_64.test(hex) || ts === "") return "no valid X-Slack-Signature and X-Slack-Request-Timestamp headers";
      if (!this.#fresh(ts)) return "the X-Slack-Request-Timestamp is more than 5 minutes from now";
      return { prefix: `v0:${ts}:`, digests: [hexBytes(hex)] };
    }
    const value = headers.get(provider.header)?.trim() ?? "";
    const hex = value.toLowerCase().startsWith("sha256=") ? value.slice(7) : value;
    return HEX_64.test(hex) ? { prefix: "", digests: [hexBytes(hex)] } : `no valid ${provider.header} header (hex HMAC-SHA256 of the body)`;
  }
}
