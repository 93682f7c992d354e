import { type AccessRules, hasRules, RULE_NAMES, type RuleSummary, summarize } from "./access-rules.ts";
import { BasicAuthCheck } from "./basic-auth.ts";
import { type IpAddress, IpRanges, parseAddress } from "./ip-range.ts";
import { parseWebhookProvider, WebhookCheck } from "./webhook-signature.ts";
import type { SessionFloor } from "./policy-floor.ts";

/** Why a visitor was refused: a small fixed set, so metric labels stay bounded. */
export type RefusalReason = "basic_auth" | "ip_allow" | "ip_deny" | "webhook" | "sign_on";

export const REFUSAL_REASONS: readonly RefusalReason[] = ["basic_auth", "ip_allow", "ip_deny", "webhook", "sign_on"];

/**
 * A session's rules made ready to ask per request: its tunnel's own, and the
 * operator's floor for it (TUNNEL_POLICY). Both must pass, so a tunnel's own
 * rules can only narrow what the floor lets in.
 */
export class AccessPolicy {
  readonly basicAuth: BasicAuthCheck | undefined;
  readonly webhook: WebhookCheck | undefined;
  /** Each list must match the signed-on address (the tunnel's and the floor's). */
  readonly oidcAllow: readonly (readonly string[])[];
  readonly own: RuleSummary;
  readonly floor: RuleSummary | undefined;
  #allow: IpRanges[];
  #deny: IpRanges[];
  /** The tunnel's own rules as they came, secrets included, to tell a changed password from the same one. */
  readonly #ownText: string;
  /** The last address asked about and its answer: a visitor's requests come in runs from one address. */
  #lastAddress: string | undefined;
  #lastRefusal: RefusalReason | undefined;

  private constructor(own: AccessRules, floor: AccessRules | undefined, now: () => number) {
    this.own = summarize(own);
    this.#ownText = JSON.stringify(own);
    this.floor = floor && hasRules(floor) ? summarize(floor) : undefined;
    const both = [own, floor ?? {}];
    this.#allow = both.flatMap((r) => (r.allowIp ? [IpRanges.parse(r.allowIp)] : []));
    this.#deny = both.flatMap((r) => (r.denyIp ? [IpRanges.parse(r.denyIp)] : []));
    this.oidcAllow = both.flatMap((r) => (r.oidcAllow ? [r.oidcAllow] : []));
    this.basicAuth = own.basicAuth ? new BasicAuthCheck(own.basicAuth) : undefined;
    this.webhook = own.webhook ? new WebhookCheck(parseWebhookProvider(own.webhook.provider), own.webhook.secret, now) : undefined;
  }

  /**
   * The policy of a session whose tunnel asks for `own` under `floor`; undefined
   * when neither sets a rule (such sessions pay nothing per request). Throws
   * Error, saying what to set, when the floor requires a rule the tunnel lacks.
   */
  static compile(session: string, own: AccessRules | undefined, floor: SessionFloor | undefined, now: () => number = Date.now): AccessPolicy | undefined {
    for (const rule of floor?.require ?? []) {
      if (own?.[rule] === undefined) {
        throw new Error(`this entry requires --${RULE_NAMES[rule]} for session ${session}`);
      }
    }
    if (!hasRules(own) && !hasRules(floor?.rules)) return undefined;
    return new AccessPolicy(own ?? {}, floor?.rules, now);
  }

  /** Whether `other` holds the same tunnel rules as this one, secrets included (no policy: no rules). */
  sameOwnRules(other: AccessPolicy | undefined): boolean {
    return other !== undefined && other.#ownText === this.#ownText;
  }

  /** Whether the lists keep this address out: the reason, or undefined when it may pass. */
  addressRefusal(remoteAddress: string): RefusalReason | undefined {
    if (this.#allow.length === 0 && this.#deny.length === 0) return undefined;
    if (remoteAddress === this.#lastAddress) return this.#lastRefusal;
    const address: IpAddress | undefined = parseAddress(remoteAddress);
    let refusal: RefusalReason | undefined;
    if (this.#deny.some((deny) => deny.holds(address))) refusal = "ip_deny";
    else if (this.#allow.some((allow) => !allow.holds(address))) refusal = "ip_allow";
    this.#lastAddress = remoteAddress;
    this.#lastRefusal = refusal;
    return refusal;
  }
}
