import { DEFAULT_UPLINK_TIMINGS, type UplinkTimings, uplinkTimingsProblem } from "../protocol/uplink-timings.ts";
import { ConfigError } from "./config-error.ts";
import type { Kind } from "./option-table.ts";

/** The message of a value an option does not take: `Invalid PORT: "http" (expected an integer from 0 to 65535)`. */
export function invalid(label: string, raw: string, expected?: string): ConfigError {
  return new ConfigError(`Invalid ${label}: ${JSON.stringify(raw)}${expected ? ` (expected ${expected})` : ""}`);
}

/** Any text, as given. */
export const text: Kind<string> = { parse: (raw) => raw };

/** A whole number from `min` to `max`. */
export function integer(min: number, max: number): Kind<number> {
  const expected = `an integer from ${min} to ${max}`;
  return {
    expected,
    min,
    max,
    parse(raw, label) {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max) throw invalid(label, raw, expected);
      return n;
    },
  };
}

/** A number above 0 (fractions allowed). */
export const positiveNumber: Kind<number> = {
  expected: "a positive number",
  parse(raw, label) {
    const n = Number(raw);
    if (!(n > 0) || !Number.isFinite(n)) throw invalid(label, raw, "a positive number");
    return n;
  },
};

/** `a`, `a or b`, `a, b or c`. */
function listed(words: readonly string[]): string {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

/** One of a few words. */
export function choice<const C extends string>(...choices: C[]): Kind<C> {
  const expected = listed(choices);
  return {
    expected,
    choices,
    parse(raw, label) {
      if (!(choices as string[]).includes(raw)) throw invalid(label, raw, expected);
      return raw as C;
    },
  };
}

/** `on` or `off`. */
export const onOff: Kind<boolean> = {
  expected: "on or off",
  choices: ["on", "off"],
  parse(raw, label) {
    if (raw === "on" || raw === "off") return raw === "on";
    throw invalid(label, raw, "on or off");
  },
};

const YES = ["1", "true", "yes", "on"];
const NO = ["0", "false", "no", "off"];

/** 1/0, true/false, yes/no or on/off. */
export const yesNo: Kind<boolean> = {
  expected: `${listed(YES)}; ${listed(NO)}`,
  choices: [...YES, ...NO],
  parse(raw, label) {
    if (YES.includes(raw)) return true;
    if (NO.includes(raw)) return false;
    throw invalid(label, raw, yesNo.expected);
  },
};

/** Comma-separated items (a repeated flag reads the same way), each trimmed; empty items skipped. */
export const commaList: Kind<string[]> = {
  parse: (raw) => raw.split(",").map((item) => item.trim()).filter((item) => item !== ""),
};

/** A switch: given, it is on. */
export const present: Kind<boolean> = { parse: () => true };

/** An http:// or https:// URL. */
export function httpUrl(label: string, raw: string | undefined): URL {
  if (!raw) throw new ConfigError(`Missing ${label}`);
  if (!raw.includes("://") && URL.canParse(`http://${raw}`) && !/\s/.test(raw)) {
    throw new ConfigError(`Invalid ${label}: ${JSON.stringify(raw)} needs its scheme: https://${raw} (TLS) or http://${raw}`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`Invalid ${label}: ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid(label, raw, "http:// or https://");
  return url;
}

/** A JSON object overriding some of DEFAULT_UPLINK_TIMINGS; the same on entry and client. */
export const uplinkTimings: Kind<UplinkTimings> = {
  parse(raw, label) {
    let given: unknown;
    try {
      given = JSON.parse(raw);
    } catch {
      throw new ConfigError(`Invalid ${label}: not JSON (e.g. {"pingEveryMs":5000,"silenceMs":15000})`);
    }
    if (typeof given !== "object" || given === null || Array.isArray(given)) throw new ConfigError(`Invalid ${label}: a JSON object`);
    for (const key of Object.keys(given)) {
      if (!(key in DEFAULT_UPLINK_TIMINGS)) throw new ConfigError(`Invalid ${label}: unknown ${key} (known: ${Object.keys(DEFAULT_UPLINK_TIMINGS).join(", ")})`);
    }
    const timings = { ...DEFAULT_UPLINK_TIMINGS, ...given as Partial<UplinkTimings> };
    const problem = uplinkTimingsProblem(timings);
    if (problem) throw new ConfigError(`Invalid ${label}: ${problem}`);
    return timings;
  },
};
