/** Which runtime runs this process: the mains pick their adapter by it. */
export function runtimeName(): "bun" | "deno" {
  const g = globalThis as Record<string, unknown>;
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  throw new Error("Unsupported runtime: tunnel2 runs on Bun or Deno");
}
