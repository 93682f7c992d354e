import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { WebhookCheck } from "../access/webhook-signature.ts";
import { MAX_WEBHOOK_BODY_BYTES, type Refusal, verifiedBody, WebhookBuffers } from "./access-gate.ts";

const check = new WebhookCheck("github", "s");
const signed = (body: Uint8Array | string) =>
  new Request("http://hooks.tunnel.test/", {
    method: "POST",
    body,
    headers: { "x-hub-signature-256": `sha256=${createHmac("sha256", "s").update(body).digest("hex")}` },
  });

describe("verifiedBody()", () => {
  test("a signed body comes back byte for byte, and nothing stays held", async () => {
    const buffers = new WebhookBuffers();
    const body = new Uint8Array(70_000).map((_, i) => i & 0xff);
    const verified = await verifiedBody(signed(body), "hooks", check, 5000, buffers);
    expect(Buffer.from(verified as Uint8Array).equals(Buffer.from(body))).toBe(true);
    expect(buffers.held).toBe(0);
  });

  test("what unverified bodies hold is bounded per session and entry-wide: past it 503, counted as a webhook refusal", async () => {
    const buffers = new WebhookBuffers({ entry: 100, session: 60 });
    // A session's own bound: 80 bytes at once is more than its 60.
    expect(buffers.take("a", 50)).toBe(true);
    const busy = (await verifiedBody(signed("x".repeat(20)), "a", check, 5000, buffers)) as Refusal;
    expect([busy.reason, busy.response.status, busy.response.headers.get("retry-after")]).toEqual(["webhook", 503, "1"]);
    // Another session still verifies while the first is full, up to the entry's bound.
    expect(await verifiedBody(signed("y".repeat(40)), "b", check, 5000, buffers)).toBeInstanceOf(Uint8Array);
    expect(buffers.take("c", 50)).toBe(true);
    expect(((await verifiedBody(signed("z".repeat(10)), "d", check, 5000, buffers)) as Refusal).response.status).toBe(503);
    buffers.give("a", 50);
    buffers.give("c", 50);
    expect(buffers.held).toBe(0);
  });

  test("too large, too slow and unsigned are refusals of the webhook rule, with their statuses", async () => {
    const buffers = new WebhookBuffers();
    const big = (await verifiedBody(signed(new Uint8Array(MAX_WEBHOOK_BODY_BYTES + 1)), "h", check, 5000, buffers)) as Refusal;
    expect([big.reason, big.response.status]).toEqual(["webhook", 413]);
    const slowBody = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(new Uint8Array(10)); } }); // never ends
    const slow = new Request("http://hooks.tunnel.test/", { method: "POST", body: slowBody, headers: { "x-hub-signature-256": `sha256=${"0".repeat(64)}` }, duplex: "half" } as RequestInit);
    const late = (await verifiedBody(slow, "h", check, 30, buffers)) as Refusal;
    expect([late.reason, late.response.status]).toEqual(["webhook", 408]);
    const unsigned = (await verifiedBody(new Request("http://h/", { method: "POST", body: "{}" }), "h", check, 5000, buffers)) as Refusal;
    expect([unsigned.reason, unsigned.response.status]).toEqual(["webhook", 401]);
    expect(buffers.held).toBe(0);
  });
});
