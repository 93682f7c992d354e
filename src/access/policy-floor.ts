import { type AccessRules, readAccessRules } from "./access-rules.ts";

/** Rules a tunnel must set itself (the floor cannot hold their secrets): named as in AccessRules. */
export type RequirableRule = "basicAuth" | "webhook" | "allowIp" | "oidcAllow";

/** What the operator's policy asks of one session. */
export interface SessionFloor {
  /** Rules that hold for the session whatever its tunnel asks: IP lists and sign-on. */
  rules: AccessRules;
  /** Rules its tunnel must set, or its uplinks are refused. */
  require: RequirableRule[];
}

/**
 * The operator's floor (TUNNEL_POLICY), inline JSON or a file, as TUNNEL_TIERS:
 *
 * ```json
 * { "sessions": { "*": { "oidcAllow": ["*@acme.com"], "denyIp": ["192.0.2.0/24"] },
 *                 "hooks": { "require": ["webhook"] } } }
 * ```
 *
 * A session listed by name gets its own entry, the others `"*"`.
 */
export class PolicyFloor {
  #sessions: Map<string, SessionFloor>;

  private constructor(sessions: Map<string, SessionFloor>) {
    this.#sessions = sessions;
  }

  /** Reads a policy; throws Error naming what is wrong. */
  static parse(text: string): PolicyFloor {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new Error(`TUNNEL_POLICY is not valid JSON: ${(err as Error).message}`);
    }
    const sessions = (raw as { sessions?: unknown } | null)?.sessions;
    if (typeof raw !== "object" || raw === null || typeof sessions !== "object" || sessions === null || Array.isArray(sessions)) {
      throw new Error('TUNNEL_POLICY needs a "sessions" object (session name or "*" to rules)');
    }
    const out = new Map<string, SessionFloor>();
    for (const [name, value] of Object.entries(sessions as Record<string, unknown>)) {
      if (name !== "*" && !/^[a-z0-9-]{1,63}$/.test(name)) throw new Error(`TUNNEL_POLICY: ${JSON.stringify(name.slice(0, 70))} is not a session name or "*"`);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`TUNNEL_POLICY: session ${name}: expected an object of rules`);
      const { require, ...given } = value as Record<string, unknown>;
      if ("basicAuth" in given || "webhook" in given) {
        throw new Error(`TUNNEL_POLICY: session ${name}: basic auth and webhook secrets belong to the tunnel; use "require": ["basicAuth"] or ["webhook"]`);
      }
      let rules: AccessRules;
      try {
        rules = readAccessRules(given);
      } catch (err) {
        throw new Error(`TUNNEL_POLICY: session ${name}: ${(err as Error).message}`);
      }
      const required = require === undefined ? [] : require;
      const requirable = ["basicAuth", "webhook", "allowIp", "oidcAllow"];
      if (!Array.isArray(required) || required.some((r) => !requirable.includes(r as string))) {
        throw new Error(`TUNNEL_POLICY: session ${name}: "require" lists rules among ${requirable.join(", ")}`);
      }
      out.set(name, { rules, require: required as RequirableRule[] });
    }
    return new PolicyFloor(out);
  }

  /** What the policy asks of `session`. */
  floorFor(session: string): SessionFloor | undefined {
    return this.#sessions.get(session) ?? this.#sessions.get("*");
  }
}
