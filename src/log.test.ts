import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createLogger, withFields } from "./log.ts";

/** Every control character: C0, DEL and C1. */
const CONTROLS = [...Array.from({ length: 0x20 }, (_, i) => i), 0x7f, ...Array.from({ length: 0x20 }, (_, i) => 0x80 + i)]
  .map((c) => String.fromCharCode(c))
  .join("");
// deno-lint-ignore no-control-regex
const HAS_CONTROL = /[\x00-\x1f\x7f-\x9f]/;

let lines: string[] = [];
const originalError = console.error;
beforeEach(() => {
  lines = [];
  console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
});
afterEach(() => {
  console.error = originalError;
});

describe("createLogger(\"text\")", () => {
  test("escapes control characters in messages, field names and field values", () => {
    const log = createLogger("text");
    const evil = `a\x1b[2J\x1b]0;pwned\x07b\rc\nd\x7fe\x9bf\u0085g`;
    log.warn(`uplink refused ${evil}`, { session: evil, [`k${evil}`]: 1, reason: CONTROLS, plain: "ok" });
    expect(lines.length).toBe(1);
    const line = lines[0];
    expect(line).not.toMatch(HAS_CONTROL);
    expect(line).toContain("uplink refused a\\u001b[2J\\u001b]0;pwned\\u0007b\\u000dc\\u000ad\\u007fe\\u009bf\\u0085g");
    expect(line).toContain(" plain=ok");
    // A quoted value reads back as the original string.
    const session = line.match(/ session=("(?:[^"\\]|\\.)*")/)![1];
    expect(JSON.parse(session)).toBe(evil);
    const reason = line.match(/ reason=("(?:[^"\\]|\\.)*")/)![1];
    expect(JSON.parse(reason)).toBe(CONTROLS);
  });

  test("leaves ordinary text as it was; an undefined field is left out", () => {
    const log = createLogger("text");
    log.info("uplink connected", { session: "demo-1", uplink: "u3", n: 5, spaced: "two words", missing: undefined });
    expect(lines[0]).toMatch(/^\S+ INFO {2}uplink connected session=demo-1 uplink=u3 n=5 spaced="two words"$/);
  });

  test("withFields puts its fields first on every line, at every level", () => {
    const log = withFields(createLogger("text"), { session: "api" });
    log.info("uplink connected", { uplink: 1 });
    log.warn("target unreachable");
    log.error("gave up", { session: "api", code: 2 });
    expect(lines.map((l) => l.slice(l.indexOf(" ") + 1))).toEqual([
      "INFO  uplink connected session=api uplink=1",
      "WARN  target unreachable session=api",
      "ERROR gave up session=api code=2",
    ]);
  });
});

describe("createLogger(\"json\")", () => {
  test("escapes DEL and C1 too (JSON.stringify leaves them raw) and stays valid JSON", () => {
    const log = createLogger("json");
    log.error(`bad ${CONTROLS}`, { session: CONTROLS, nested: { s: "\x9b31m" } });
    const line = lines[0];
    expect(line).not.toMatch(HAS_CONTROL);
    const parsed = JSON.parse(line);
    expect(parsed.msg).toBe(`bad ${CONTROLS}`);
    expect(parsed.session).toBe(CONTROLS);
    expect(parsed.nested.s).toBe("\x9b31m");
    expect(parsed.level).toBe("error");
  });
});
