import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

/*
 * The layers as ARCHITECTURE.md lists them, checked against every import
 * in src/ (tests aside: they may reach wherever they need to).
 */
const root = join(import.meta.dir, "..");
const src = join(root, "src");

/** Rows of units, lowest first, from the `layers` block of ARCHITECTURE.md. */
export function layerRows(markdown: string): string[][] {
  const block = /```layers\n([\s\S]*?)```/.exec(markdown);
  if (!block) throw new Error("ARCHITECTURE.md has no ```layers block");
  return block[1].split("\n").map((line) => line.trim()).filter(Boolean).map((line) => line.split(/\s+/));
}

/** The unit a path under src/ belongs to: the longest listed prefix (a folder, a subfolder or a top-level file). */
function unitOf(file: string, units: string[]): string | undefined {
  let best: string | undefined;
  for (const unit of units) {
    const owns = unit.endsWith(".ts") ? file === unit : file.startsWith(`${unit}/`);
    if (owns && (best === undefined || unit.length > best.length)) best = unit;
  }
  return best;
}

/** One relative import, as a path under src/; `typeOnly` for `import type` and `export type`, which leave nothing at run time. */
export interface Import {
  path: string;
  typeOnly: boolean;
}

/** Relative imports of one source file: static, dynamic, type-only and re-exports. */
export function importsOf(file: string, text: string): Import[] {
  const found: Import[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  for (const m of code.matchAll(/(?:\b(import|export)(\s+type)?\b[^;"']*?\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"']+)\3/g)) {
    found.push({ path: normalize(join(dirname(file), m[4])), typeOnly: m[2] !== undefined });
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.ts$/.test(entry.name) && !/\.test\.ts$|\.d\.ts$/.test(entry.name) && !entry.name.startsWith("_")) out.push(relative(src, path));
  }
  return out;
}

/**
 * What breaks the layers: upward or peer imports (types included), files in
 * no unit, and cycles between files through imports that run (a type that
 * names its container, as an uplink names its registry, closes no cycle).
 */
export function layerProblems(rows: string[][], files: Map<string, Import[]>): string[] {
  const units = rows.flat();
  const rowOf = new Map(rows.flatMap((row, i) => row.map((unit) => [unit, i] as const)));
  const problems: string[] = [];
  for (const [file, imports] of files) {
    const from = unitOf(file, units);
    if (from === undefined) {
      problems.push(`${file} is in no unit of ARCHITECTURE.md`);
      continue;
    }
    for (const { path: target } of imports) {
      if (target.startsWith("..")) continue; // outside src/ (package.json)
      const to = unitOf(target, units);
      if (to === undefined || to === from) continue;
      if (rowOf.get(to)! > rowOf.get(from)!) problems.push(`${file} imports ${target}: ${to} is above ${from}`);
      else if (rowOf.get(to) === rowOf.get(from)) problems.push(`${file} imports ${target}: ${to} and ${from} are peers`);
    }
  }
  // Cycles: a depth-first walk; a file met again while still on the path closes one.
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    path.push(file);
    for (const { path: next, typeOnly } of files.get(file) ?? []) {
      if (typeOnly || !files.has(next)) continue;
      if (state.get(next) === "open") problems.push(`import cycle: ${[...path.slice(path.indexOf(next)), next].join(" → ")}`);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of [...files.keys()].sort()) if (!state.has(file)) visit(file);
  return problems;
}

describe("layers", () => {
  const rows = layerRows(readFileSync(join(root, "ARCHITECTURE.md"), "utf8"));
  const files = new Map(sourceFiles(src).map((file) => [file, importsOf(file, readFileSync(join(src, file), "utf8"))]));

  test("every import in src/ goes to the same unit or a lower row, with no cycle", () => {
    expect(files.size).toBeGreaterThan(100);
    expect(layerProblems(rows, files)).toEqual([]);
  });

  test("every listed unit exists", () => {
    const missing = rows.flat().filter((unit) => ![...files.keys()].some((file) => file === unit || file.startsWith(`${unit}/`)));
    expect(missing).toEqual([]);
  });

  test("the check sees upward imports, peer imports and cycles", () => {
    const rows = [["low"], ["a", "b"], ["high"]];
    const runs = (...paths: string[]) => paths.map((path) => ({ path, typeOnly: false }));
    const made = new Map([
      ["low/x.ts", runs("high/y.ts")],
      ["a/p.ts", runs("b/q.ts", "low/x.ts")],
      ["b/q.ts", [{ path: "a/p.ts", typeOnly: true }]],
      ["high/y.ts", runs("low/x.ts", "high/z.ts")],
      ["high/z.ts", runs("high/y.ts")],
      ["stray.ts", []],
    ]);
    expect(layerProblems(rows, made)).toEqual([
      "low/x.ts imports high/y.ts: high is above low",
      "a/p.ts imports b/q.ts: b and a are peers",
      "b/q.ts imports a/p.ts: a and b are peers",
      "stray.ts is in no unit of ARCHITECTURE.md",
      "import cycle: low/x.ts → high/y.ts → low/x.ts",
      "import cycle: high/y.ts → high/z.ts → high/y.ts",
    ]);
    expect(importsOf("entry/a.ts", 'import type { X } from "../mux/m.ts";\nexport { Y } from "./y.ts";\nconst z = await import("../wiring/w.ts");\n// import "../no.ts"\nimport "./side.ts";'))
      .toEqual([
      { path: "mux/m.ts", typeOnly: true },
      { path: "entry/y.ts", typeOnly: false },
      { path: "wiring/w.ts", typeOnly: false },
      { path: "entry/side.ts", typeOnly: false },
    ]);
  });
});
