import { credentialProblem } from "./basic-auth.ts";
import { emailPatternProblem } from "./email-pattern.ts";
import { rangeProblem } from "./ip-range.ts";
import { parseWebhookProvider } from "./webhook-signature.ts";

/**
 * Who may reach a tunnel, as its client asks in the uplink's hello (and as
 * an entry's operator requires in TUNNEL_POLICY). Every rule present must
 * pass; a rule left out lets everyone through it.
 */
export interface AccessRules {
  /** `user:password` pairs; a visitor must send one of them (Basic). */
  basicAuth?: string[];
  /** Visitor addresses let in (CIDR or single addresses, IPv4 and IPv6); others get 403. */
  allowIp?: string[];
  /** Visitor addresses kept out, whatever else they pass. */
  denyIp?: string[];
  /** Requests must carry a valid signature of this sender, made with `secret`. */
  webhook?: { provider: string; secret: string };
  /** Visitors must sign on with the entry's OpenID Connect provider as an address matching one of these (`alice@acme.com`, `*@acme.com`). */
  oidcAllow?: string[];
}

/** What a hello may carry at most: rules are for people, not for data. */
export const RULE_LIMITS = { items: 256, itemChars: 512 };

/** The rule names as users write them (flags, refusal reasons, listings). */
export const RULE_NAMES = {
  basicAuth: "basic-auth",
  allowIp: "allow-ip",
  denyIp: "deny-ip",
  webhook: "verify-webhook",
  oidcAllow: "oidc-allow",
} as const;

function stringList(value: unknown, name: string, check: (item: string) => string | undefined): string[] {
  if (!Array.isArray(value)) throw new Error(`${name}: expected a list`);
  if (value.length === 0) throw new Error(`${name}: the list is empty`);
  if (value.length > RULE_LIMITS.items) throw new Error(`${name}: ${value.length} items, at most ${RULE_LIMITS.items}`);
  for (const item of value) {
    if (typeof item !== "string" || item.length > RULE_LIMITS.itemChars) throw new Error(`${name}: items are strings of at most ${RULE_LIMITS.itemChars} characters`);
    const problem = check(item);
    if (problem) throw new Error(`${name}: ${problem}`);
  }
  return [...value];
}

/**
 * Reads and checks rules from JSON (a hello's `access`, a policy entry):
 * unknown keys, bad ranges, credentials, providers or patterns throw an
 * Error naming the rule, so nothing half-understood is ever enforced.
 */
export function readAccessRules(value: unknown): AccessRules {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("access rules: expected an object");
  const o = value as Record<string, unknown>;
  const rules: AccessRules = {};
  for (const key of Object.keys(o)) {
    // Own names only: "constructor" or "__proto__" are not rules (`in` would find them on the prototype).
    if (!Object.hasOwn(RULE_NAMES, key)) throw new Error(`access rules: unknown rule ${JSON.stringify(key.slice(0, 40))} (known: ${Object.keys(RULE_NAMES).join(", ")})`);
  }
  if (o.basicAuth !== undefined) rules.basicAuth = stringList(o.basicAuth, RULE_NAMES.basicAuth, credentialProblem);
  if (o.allowIp !== undefined) rules.allowIp = stringList(o.allowIp, RULE_NAMES.allowIp, rangeProblem);
  if (o.denyIp !== undefined) rules.denyIp = stringList(o.denyIp, RULE_NAMES.denyIp, rangeProblem);
  if (o.oidcAllow !== undefined) rules.oidcAllow = stringList(o.oidcAllow, RULE_NAMES.oidcAllow, emailPatternProblem);
  if (o.webhook !== undefined) {
    const w = o.webhook as Record<string, unknown>;
    if (typeof w !== "object" || w === null || typeof w.provider !== "string" || typeof w.secret !== "string") {
      throw new Error(`${RULE_NAMES.webhook}: expected { provider, secret }`);
    }
    parseWebhookProvider(w.provider);
    if (w.secret === "" || w.secret.length > RULE_LIMITS.itemChars) throw new Error(`${RULE_NAMES.webhook}: the secret must be 1-${RULE_LIMITS.itemChars} characters`);
    rules.webhook = { provider: w.provider.trim(), secret: w.secret };
  }
  return rules;
}

/** Whether any rule is set. */
export function hasRules(rules: AccessRules | undefined): rules is AccessRules {
  return rules !== undefined && Object.values(rules).some((v) => v !== undefined);
}

/** What the rules are, without their secrets: users but no passwords, the provider but not its secret. */
export interface RuleSummary {
  basicAuth?: { users: string[] };
  allowIp?: string[];
  denyIp?: string[];
  webhook?: string;
  oidcAllow?: string[];
}

export function summarize(rules: AccessRules): RuleSummary {
  const out: RuleSummary = {};
  if (rules.basicAuth) out.basicAuth = { users: rules.basicAuth.map((pair) => pair.slice(0, pair.indexOf(":"))) };
  if (rules.allowIp) out.allowIp = [...rules.allowIp];
  if (rules.denyIp) out.denyIp = [...rules.denyIp];
  if (rules.webhook) out.webhook = rules.webhook.provider;
  if (rules.oidcAllow) out.oidcAllow = [...rules.oidcAllow];
  return out;
}

/** One line per rule, as the client prints them at start: `basic auth: users alice, bob`. */
export function ruleLines(rules: AccessRules): string[] {
  const s = summarize(rules);
  const lines: string[] = [];
  if (s.basicAuth) lines.push(`basic auth: user${s.basicAuth.users.length > 1 ? "s" : ""} ${s.basicAuth.users.join(", ")}`);
  if (s.allowIp) lines.push(`allow only from: ${s.allowIp.join(", ")}`);
  if (s.denyIp) lines.push(`deny from: ${s.denyIp.join(", ")}`);
  if (s.webhook) lines.push(`webhook signatures: ${s.webhook}`);
  if (s.oidcAllow) lines.push(`sign-on required: ${s.oidcAllow.join(", ")}`);
  return lines;
}
