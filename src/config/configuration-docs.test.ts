/**
 * The documentation's configuration tables (the `| flag | variable | … |`
 * tables of README.md and docs/*.md) list exactly the options of the
 * programs' option tables: every flag and variable, and nothing else.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CLIENT_OPTIONS } from "./client-options.ts";
import { ENTRY_OPTIONS } from "./entry-options.ts";
import type { Option } from "./option-table.ts";

const ROOT = join(import.meta.dir, "..", "..");
const HEADER = /^\|\s*flag\s*\|\s*variable\s*\|/;

/** Flags and variables a set of options has, as `--flag` and `NAME`. */
interface Names {
  flags: Set<string>;
  variables: Set<string>;
}

/** The cells of a markdown table row (`\|` stays inside a cell). */
function cells(row: string): string[] {
  return row.trim().replace(/^\||\|$/g, "").split(/(?<!\\)\|/).map((c) => c.trim());
}

/** Each configuration table of a markdown text: the flags of its first column, the variables of its second. */
export function configurationTables(markdown: string): Names[] {
  const tables: Names[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!HEADER.test(lines[i])) continue;
    const table: Names = { flags: new Set(), variables: new Set() };
    for (i += 2; i < lines.length && lines[i].startsWith("|"); i++) {
      const [flags, variables] = cells(lines[i]);
      for (const m of flags.matchAll(/`(--[a-z0-9-]+)/g)) table.flags.add(m[1]);
      for (const m of variables.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) table.variables.add(m[1]);
    }
    tables.push(table);
  }
  return tables;
}

function namesOf(options: Record<string, Option<unknown>>): Names {
  const all = Object.values(options);
  return {
    flags: new Set(all.flatMap((o) => (o.flag ? [`--${o.flag}`] : []))),
    variables: new Set(all.flatMap((o) => (o.env ? [o.env] : []))),
  };
}

const docs = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];
const found = docs.flatMap((file) => configurationTables(readFileSync(join(ROOT, file), "utf8")).map((names) => ({ file, names })));

const programs = [["entry (tunnel2 serve)", namesOf(ENTRY_OPTIONS.options)], ["client (tunnel2 http)", namesOf(CLIENT_OPTIONS.options)]] as const;

/** How many variables two sets of names share. */
const shared = (a: Names, b: Names) => [...a.variables].filter((v) => b.variables.has(v)).length;

describe("the configuration tables of the docs", () => {
  test("one table per program", () => {
    expect(found.length).toBe(programs.length);
  });

  test.each(programs)("%s: the table lists exactly its flags and variables", (_name, program) => {
    // A program's table is the one sharing the most variables with it.
    const doc = found.toSorted((a, b) => shared(b.names, program) - shared(a.names, program))[0];
    const missing = (from: Set<string>, to: Set<string>) => [...from].filter((n) => !to.has(n)).sort();
    expect({ file: doc.file, undocumented: missing(program.flags, doc.names.flags), stale: missing(doc.names.flags, program.flags) })
      .toEqual({ file: doc.file, undocumented: [], stale: [] });
    expect({ file: doc.file, undocumented: missing(program.variables, doc.names.variables), stale: missing(doc.names.variables, program.variables) })
      .toEqual({ file: doc.file, undocumented: [], stale: [] });
  });

  test("configurationTables() reads both columns, `\\|` and several names a cell", () => {
    const [table] = configurationTables(
      "| flag | variable | default | meaning |\n|---|---|---|---|\n| `--a 1\\|0`, `--b` | `A`, `B` | x | y |\n| — | `C` | | |\n\nafter\n",
    );
    expect([...table.flags]).toEqual(["--a", "--b"]);
    expect([...table.variables]).toEqual(["A", "B", "C"]);
  });
});
