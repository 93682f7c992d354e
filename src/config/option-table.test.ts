import { describe, expect, test } from "bun:test";
import { integer, text } from "./option-kinds.ts";
import { labelOf, option, optionLines, programFlags, readOptions, scanFlags } from "./option-table.ts";

const TABLE = {
  usage: "Usage: demo [options]",
  naming: "flag",
  options: {
    server: option({ flag: "server", env: "DEMO_SERVER", arg: "URL", kind: text, required: true, multiple: true, help: "where" }),
    count: option({ flag: "count", env: "DEMO_COUNT", arg: "N", kind: integer(1, 9), default: 2, help: "how many" }),
    quiet: option({ flag: "quiet", kind: text, switch: true, help: "say less" }),
    secret: option({ group: "Also", env: "DEMO_SECRET", kind: text, help: "a key\nfrom the environment only" }),
  },
} as const;

describe("labelOf()", () => {
  test("by flag: required ones say 'or'; by variable: the variable", () => {
    expect(labelOf(TABLE, TABLE.options.server)).toBe("--server (or DEMO_SERVER)");
    expect(labelOf(TABLE, TABLE.options.count)).toBe("--count (DEMO_COUNT)");
    expect(labelOf(TABLE, TABLE.options.quiet)).toBe("--quiet");
    expect(labelOf({ ...TABLE, naming: "variable" }, TABLE.options.count)).toBe("DEMO_COUNT");
    expect(labelOf(TABLE, TABLE.options.secret)).toBe("DEMO_SECRET");
  });
});

describe("programFlags()", () => {
  test("repeated flags join with commas; a switch reads true; --help throws the usage", () => {
    const flags = programFlags(TABLE, ["--server", "a", "--server=b", "--quiet"]);
    expect(flags).toEqual({ server: "a,b", quiet: "true" });
    expect(() => programFlags(TABLE, ["--help"])).toThrow("Usage: demo [options]\n  --server URL");
    expect(() => programFlags(TABLE, ["--nope"])).toThrow("Unknown option '--nope'");
    expect(() => programFlags(TABLE, ["extra"])).toThrow("Unexpected argument 'extra'");
  });
});

describe("readOptions()", () => {
  test("the flag, else the variable, else the default; each checked when read", () => {
    const values = readOptions(TABLE, { count: "3" }, { DEMO_COUNT: "5", DEMO_SERVER: "s" });
    expect(values.count).toBe(3);
    expect(values.server).toBe("s");
    expect(readOptions(TABLE, {}, { DEMO_COUNT: "" }).count).toBe(2);
    const bad = readOptions(TABLE, { count: "10" }, {});
    expect(bad.secret).toBeUndefined(); // the others still read
    expect(() => bad.count).toThrow('Invalid --count (DEMO_COUNT): "10" (expected an integer from 1 to 9)');
    expect(() => bad.server).toThrow("Missing --server (or DEMO_SERVER)");
  });
});

describe("scanFlags()", () => {
  test("takes the named flags; leaves positionals and other options, as typed, in order", () => {
    const { flags, rest } = scanFlags(TABLE, ["server", "count", "quiet"], ["3000", "--server", "a", "--nope=1", "--count=4", "-x", "--quiet", "b"]);
    expect(flags).toEqual({ server: "a", count: "4", quiet: "true" });
    expect(rest).toEqual(["3000", "--nope=1", "-x", "b"]);
    expect(scanFlags(TABLE, ["count"], ["--server", "a"]).rest).toEqual(["--server", "a"]);
    expect(scanFlags(TABLE, ["quiet"], ["--quiet=1"]).rest).toEqual(["--quiet=1"]);
  });

  test("a flag without its value is named", () => {
    expect(() => scanFlags(TABLE, ["server"], ["--server"])).toThrow("--server needs a value");
    expect(() => scanFlags(TABLE, ["server", "quiet"], ["--server", "--quiet"])).toThrow("--server needs a value");
    expect(scanFlags(TABLE, ["server"], ["--server=--odd"]).flags.server).toBe("--odd");
  });
});

describe("optionLines()", () => {
  test("columns line up; groups get a heading; defaults show; long help continues under its column", () => {
    expect(optionLines(TABLE).split("\n")).toEqual([
      "  --server URL DEMO_SERVER where",
      "  --count N    DEMO_COUNT  how many (2)",
      "  --quiet                  say less",
      "Also:",
      "               DEMO_SECRET a key",
      "                           from the environment only",
    ]);
    expect(optionLines(TABLE, ["count"], { count: "replaced" })).toBe("  --count N DEMO_COUNT replaced");
  });
});
