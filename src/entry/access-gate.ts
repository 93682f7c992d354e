import type { AccessPolicy, RefusalReason } from "../access/access-policy.ts";
import type { WebhookCheck, WebhookVerification } from "../access/webhook-signature.ts";
import { errorResponse } from "./error-response.ts";
import { joinBytes } from "../protocol/bytes.ts";
import { emailAllowed } from "../access/email-pattern.ts";
import { LOGOUT_PATH, type SignOn } from "./sign-on.ts";

/** The largest body a webhook check holds back until its signature is verified; a bigger one gets 413. */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

/** Bytes of webhook bodies held back at once, entry-wide and per session: what strangers can make the entry hold is bounded. */
export const WEBHOOK_BUFFER_LIMITS = { entry: 64 * 1024 * 1024, session: 16 * 1024 * 1024 };

/** How many bytes of unverified webhook bodies the entry holds now, in all and by session. */
export class WebhookBuffers {
  #held = 0;
  #bySession = new Map<string, number>();
  readonly limits: { entry: number; session: number };

  constructor(limits = WEBHOOK_BUFFER_LIMITS) {
    this.limits = limits;
  }

  get held(): number {
    return this.#held;
  }

  /** Takes `n` more bytes for `session`, or false when that would pass a limit. */
  take(session: string, n: number): boolean {
    const mine = this.#bySession.get(session) ?? 0;
    if (this.#held + n > this.limits.entry || mine + n > this.limits.session) return false;
    this.#held += n;
    this.#bySession.set(session, mine + n);
    return true;
  }

  give(session: string, n: number): void {
    this.#held -= n;
    const left = (this.#bySession.get(session) ?? 0) - n;
    if (left > 0) this.#bySession.set(session, left);
    else this.#bySession.delete(session);
  }
}

/** A visitor kept out: why (for the metrics) and the answer. */
export interface Refusal {
  reason: RefusalReason;
  response: Response;
}

function refusal(reason: RefusalReason, status: number, message: string, headers: Record<string, string> = {}): Refusal {
  const response = errorResponse(status, message);
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return { reason, response };
}

/**
 * The checks a request's head allows: the address lists, then basic auth.
 * `remoteAddress` is the visitor's address as the entry knows it (the
 * socket's, a trusted proxy's, or the forwarding entry's word for it),
 * never one a visitor's own headers claim.
 */
export function refuseByHead(request: Request, remoteAddress: string, session: string, policy: AccessPolicy): Refusal | undefined {
  const byAddress = policy.addressRefusal(remoteAddress);
  if (byAddress) return refusal(byAddress, 403, `Forbidden: session "${session}" does not take requests from your address`);
  if (policy.basicAuth && !policy.basicAuth.allows(request.headers.get("authorization"))) {
    return refusal("basic_auth", 401, `Unauthorized: session "${session}" needs a user name and password`, {
      "www-authenticate": `Basic realm="${session}", charset="UTF-8"`,
    });
  }
  return undefined;
}

/**
 * Sign-on for a session that asks for it: the sign-on's own pages on the
 * session host (its landing and logout) as a Response; a visitor with no
 * valid sign-on is challenged (refused, "sign_on"); one signed on as an
 * address none of the patterns takes is refused with 403. Otherwise the
 * visitor's email is set and undefined returned: it may pass.
 */
export async function signOnGate(
  request: Request,
  session: string,
  policy: AccessPolicy,
  signOn: SignOn | undefined,
  visitor: { email?: string },
): Promise<Refusal | Response | undefined> {
  // An entry whose provider is not discovered yet lets no one in: sign-on never fails open.
  if (!signOn) return refusal("sign_on", 503, "Service unavailable: the entry's sign-on is not ready yet: try again in a moment");
  const host = request.headers.get("host") ?? "";
  const own = await signOn.sessionRoute(request, host);
  if (own) return own;
  const email = await signOn.identity(request, host);
  if (email === undefined) return { reason: "sign_on", response: await signOn.challenge(request, host) };
  if (!policy.oidcAllow.every((patterns) => emailAllowed(email, patterns))) {
    return refusal("sign_on", 403, `Forbidden: you are signed on as ${email}, and session "${session}" does not let that address in (sign out: ${LOGOUT_PATH})`);
  }
  visitor.email = email;
  return undefined;
}

const tooLarge = () => refusal("webhook", 413, `Payload too large: a webhook body is verified before it is passed on, up to ${MAX_WEBHOOK_BODY_BYTES} bytes`);

/**
 * Reads a request's body (at most MAX_WEBHOOK_BODY_BYTES, within
 * `timeoutMs`) while hashing it, and gives it back only when the webhook
 * signature holds: the target then gets exactly the bytes that were signed.
 */
export async function verifiedBody(
  request: Request,
  session: string,
  check: WebhookCheck,
  timeoutMs: number,
  buffers: WebhookBuffers,
): Promise<Uint8Array<ArrayBuffer> | Refusal> {
  const verification = check.begin(request.headers);
  if (typeof verification === "string") {
    await request.body?.cancel().catch(() => {});
    return refusal("webhook", 401, `Unauthorized: session "${session}" takes only signed webhooks: ${verification}`);
  }
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_WEBHOOK_BODY_BYTES) {
    await request.body?.cancel().catch(() => {});
    return tooLarge();
  }
  const held = { bytes: 0 };
  try {
    const chunks = request.body ? await readWebhookBody(request.body, session, verification, timeoutMs, buffers, held) : [];
    if (!Array.isArray(chunks)) return chunks;
    if (!verification.verified()) {
      return refusal("webhook", 401, `Unauthorized: session "${session}" takes only signed webhooks: the signature does not match the body`);
    }
    return joinBytes(chunks, held.bytes);
  } finally {
    buffers.give(session, held.bytes);
  }
}

/**
 * Reads `body` into memory, each chunk fed to the signature check and taken
 * from `buffers` (counted in `held`, which the caller gives back): a refusal
 * when it is too large, too slow, ends early, or the buffers are full.
 */
async function readWebhookBody(
  body: ReadableStream<Uint8Array>,
  session: string,
  verification: WebhookVerification,
  timeoutMs: number,
  buffers: WebhookBuffers,
  held: { bytes: number },
): Promise<Uint8Array[] | Refusal> {
  const chunks: Uint8Array[] = [];
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
  const stop = (answer: Refusal) => {
    reader.cancel().catch(() => {});
    return answer;
  };
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "late") return stop(refusal("webhook", 408, "Request timeout: the webhook body did not arrive in time"));
      if (next.done) return chunks;
      if (held.bytes + next.value.byteLength > MAX_WEBHOOK_BODY_BYTES) return stop(tooLarge());
      if (!buffers.take(session, next.value.byteLength)) {
        return stop(refusal("webhook", 503, "Service unavailable: too many webhook bodies are being verified at once: retry shortly", { "retry-after": "1" }));
      }
      held.bytes += next.value.byteLength;
      verification.update(next.value);
      chunks.push(next.value);
    }
  } catch {
    return refusal("webhook", 400, "Bad request: the request body ended early");
  } finally {
    clearTimeout(timer);
  }
}
