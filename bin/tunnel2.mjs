#!/usr/bin/env node
/**
 * The `tunnel2` command of the npm package: runs src/cli/main.ts under the
 * Bun that the package depends on (the `bun` npm package), so a machine with
 * only Node and npm gets a working `tunnel2` from `npm install -g`.
 *
 * Under Bun or Deno itself (`bunx --bun`, `deno run`), it imports the CLI
 * directly. Under Node it starts Bun as a child with the same arguments and
 * stdio, and ends as the child ends: with its exit code, or killed by the
 * same signal. SIGINT, SIGTERM and SIGHUP sent to this process are passed on
 * to the child, each at most once a second: a Ctrl-C in a terminal reaches
 * both processes, and the CLI counts a signal delivered twice within a second
 * as one, so one Ctrl-C still means "close the uplinks and exit".
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { constants, devNull } from "node:os";
import { delimiter, dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const args = process.argv.slice(2);

/** A real executable, not the small placeholder the `bun` package ships until its postinstall runs. */
function isExecutable(path) {
  try {
    return statSync(path).isFile() && statSync(path).size > 1024 * 1024;
  } catch {
    return false;
  }
}

/** Where the Bun binary may be, best first. */
function bunCandidates() {
  const found = [];
  if (process.env.TUNNEL2_BUN) found.push(process.env.TUNNEL2_BUN);
  const exe = process.platform === "win32" ? "bun.exe" : "bun";
  try {
    // The `bun` package next to this one (a dependency); its postinstall puts the binary at its `bin`.
    const pkgJson = createRequire(import.meta.url).resolve("bun/package.json");
    const pkg = JSON.parse(readFileSync(pkgJson, "utf8"));
    const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.bun;
    if (bin) found.push(join(dirname(pkgJson), bin));
    // Without its postinstall (--ignore-scripts, or a package manager that skips it), the binary
    // is still in the platform package that `bun` has as an optional dependency.
    const fromBun = createRequire(pkgJson);
    const arch = process.arch === "arm64" ? "aarch64" : process.arch;
    for (const suffix of ["", "-musl", "-baseline", "-musl-baseline", "-android"]) {
      try {
        const platformJson = fromBun.resolve(`@oven/bun-${process.platform === "win32" ? "windows" : process.platform}-${arch}${suffix}/package.json`);
        found.push(join(dirname(platformJson), "bin", exe));
      } catch {
        // not installed for this platform
      }
    }
  } catch {
    // the `bun` package is not installed
  }
  // Last, a Bun on PATH.
  for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir) found.push(join(dir, exe));
  return found;
}

function findBun() {
  const candidates = bunCandidates();
  const bun = candidates.find(isExecutable);
  if (!bun) {
    const looked = candidates.filter((c) => existsSync(c));
    console.error(
      "tunnel2: cannot find the Bun runtime it runs on. It comes with the package (the `bun` npm dependency) " +
        "unless its install script was skipped: reinstall without --ignore-scripts, install Bun (https://bun.sh), " +
        `or set TUNNEL2_BUN to a bun binary.${looked.length ? `\n  not usable: ${looked.join(", ")}` : ""}`,
    );
    process.exit(1);
  }
  return bun;
}

if (globalThis.Bun !== undefined || globalThis.Deno !== undefined) {
  const { main } = await import(MAIN);
  await main(args);
} else {
  // The dependencies are installed next to this package: never fetch any at run time. The working
  // directory is the user's, not ours: its .env and bunfig.toml (preload scripts) are not for tunnel2.
  // mimalloc keeps freed pages rather than returning them at once: its madvise calls and the
  // page faults after them were ~10 % of a tunnel process's CPU (bench/RESULTS.md, issue 13).
  const env = { MIMALLOC_PURGE_DELAY: "-1", ...process.env };
  const child = spawn(findBun(), ["--no-install", "--no-env-file", `--config=${devNull}`, MAIN, ...args], { stdio: "inherit", env });
  const lastSent = new Map();
  const forward = (signal) => {
    const now = Date.now();
    if (now - (lastSent.get(signal) ?? -Infinity) < 1000) return;
    lastSent.set(signal, now);
    try {
      child.kill(signal);
    } catch {
      // the child has just exited
    }
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const signal of signals) process.on(signal, forward);
  child.on("error", (err) => {
    console.error(`tunnel2: cannot start Bun: ${err.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    for (const s of signals) process.off(s, forward);
    if (signal) {
      // End the same way, so a shell or supervisor sees what happened (else as a shell reports it).
      process.exitCode = 128 + (constants.signals[signal] ?? 0);
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(), 100).unref();
      return;
    }
    process.exit(code ?? 1);
  });
}
