import { describe, expect, test } from "bun:test";
import { parseWebhookProvider, providerName, WebhookCheck, type WebhookProvider } from "./webhook-signature.ts";

const text = new TextEncoder();

/** An independent HMAC (WebCrypto), as a sender computes it. */
async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", text.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, text.encode(message)))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs a check over a body fed in pieces: true, false, or the reason the headers fail. */
function verify(check: WebhookCheck, headers: Record<string, string>, body: string, pieces = 3): boolean | string {
  const v = check.begin(new Headers(headers));
  if (typeof v === "string") return v;
  const bytes = text.encode(body);
  const step = Math.max(1, Math.ceil(bytes.length / pieces));
  for (let i = 0; i < bytes.length; i += step) v.update(bytes.subarray(i, i + step));
  return v.verified();
}

describe("WebhookCheck", () => {
  test("github: the documented example, and a tampered body or signature", () => {
    const check = new WebhookCheck("github", "It's a Secret to Everybody");
    const signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    expect(verify(check, { "x-hub-signature-256": signature }, "Hello, World!")).toBe(true);
    expect(verify(check, { "x-hub-signature-256": signature }, "Hello, World?")).toBe(false);
    expect(verify(check, { "x-hub-signature-256": signature.replace("757", "758") }, "Hello, World!")).toBe(false);
    expect(verify(check, { "x-hub-signature-256": signature.toUpperCase().replace("SHA256=", "sha256=") }, "Hello, World!")).toBe(true);
    expect(verify(check, {}, "Hello, World!")).toBe("no valid X-Hub-Signature-256 header");
    expect(verify(check, { "x-hub-signature": "sha1=abc" }, "x")).toBe("no valid X-Hub-Signature-256 header");
  });

  test("slack: the documented example, within 5 minutes of its timestamp only", () => {
    const body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const headers = { "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", "x-slack-request-timestamp": "1531420618" };
    const at = (ms: number) => new WebhookCheck("slack", "8f742231b10e8888abcd99yyyzzz85a5", () => ms);
    expect(verify(at(1531420618_000 + 60_000), headers, body)).toBe(true);
    expect(verify(at(1531420618_000 - 299_000), headers, body)).toBe(true);
    expect(verify(at(1531420618_000 + 301_000), headers, body)).toBe("the X-Slack-Request-Timestamp is more than 5 minutes from now");
    expect(verify(at(1531420618_000), headers, `${body}&x=1`)).toBe(false);
    expect(verify(at(1531420618_000), { ...headers, "x-slack-request-timestamp": "1531420619" }, body)).toBe(false);
  });

  test("stripe: t= within 5 minutes and any v1= of the signed text", async () => {
    const now = 1_700_000_000_000;
    const t = String(now / 1000 - 10);
    const body = '{"id":"evt_1","type":"charge.succeeded"}';
    const good = await hmacHex("whsec_test", `${t}.${body}`);
    const check = new WebhookCheck("stripe", "whsec_test", () => now);
    expect(verify(check, { "stripe-signature": `t=${t},v1=${good},v0=deadbeef` }, body)).toBe(true);
    // Rolled secrets: several v1 values, one of them right.
    expect(verify(check, { "stripe-signature": `t=${t},v1=${"0".repeat(64)},v1=${good}` }, body)).toBe(true);
    expect(verify(check, { "stripe-signature": `t=${Number(t) + 1},v1=${good}` }, body)).toBe(false);
    expect(verify(check, { "stripe-signature": `t=${t},v1=${good}` }, body.replace("1", "2"))).toBe(false);
    expect(verify(check, { "stripe-signature": `t=${now / 1000 - 400},v1=${good}` }, body)).toBe("the Stripe-Signature timestamp is more than 5 minutes from now");
    expect(verify(check, { "stripe-signature": `v1=${good}` }, body)).toBe("no valid Stripe-Signature header (t= and v1=)");
  });

  test("hmac-sha256:HEADER: hex of the body, with or without sha256=", async () => {
    const provider = parseWebhookProvider("hmac-sha256:X-Signature");
    expect(provider).toEqual({ header: "x-signature" });
    expect(providerName(provider)).toBe("hmac-sha256:x-signature");
    const check = new WebhookCheck(provider, "k");
    const hex = await hmacHex("k", "payload");
    expect(verify(check, { "x-signature": hex }, "payload")).toBe(true);
    expect(verify(check, { "x-signature": `sha256=${hex}` }, "payload")).toBe(true);
    expect(verify(check, { "x-signature": hex }, "payload!")).toBe(false);
    expect(verify(check, { "x-other": hex }, "payload")).toBe("no valid x-signature header (hex HMAC-SHA256 of the body)");
    // The empty body (a WebSocket upgrade) has a signature too.
    expect(verify(check, { "x-signature": await hmacHex("k", "") }, "")).toBe(true);
  });

  test("parseWebhookProvider() takes the four forms and names the rest", () => {
    for (const name of ["github", "stripe", "slack"] as WebhookProvider[]) expect(parseWebhookProvider(name)).toBe(name);
    expect(() => parseWebhookProvider("gitlab")).toThrow('"gitlab" is not a webhook provider (expected github, stripe, slack or hmac-sha256:HEADER)');
    expect(() => parseWebhookProvider("hmac-sha256:")).toThrow("is not a webhook provider");
    expect(() => parseWebhookProvider("hmac-sha256:bad header")).toThrow("is not a webhook provider");
  });
});
