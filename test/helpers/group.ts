/**
 * Runs a command as a person would from a shell: in a process group of its
 * own (npm, npx and `deno task` start children of their own), keeping every
 * byte it writes. `signal()` reaches the whole group, as Ctrl-C or
 * `kill -TERM -PGID` does. Groups still running are killed by `stopGroups()`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
/** node_modules/.bin first, as the README tells people to do. */
export const PATH_WITH_BIN = `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`;

const running = new Set<Group>();

export class Group {
  readonly proc: ChildProcess;
  /** When every process holding its output has ended: the leader's exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** When the leader itself ended (Date.now()), once it has: a shell prompt would be back then. */
  leaderEndedAt: number | undefined;
  #bytes: Buffer[] = [];
  #wake = () => {};

  constructor(readonly cmd: string[], env: Record<string, string | undefined>, stdin?: string) {
    this.proc = spawn(cmd[0], cmd.slice(1), {
      cwd: ROOT,
      env: Object.fromEntries(
        Object.entries({ ...process.env, PATH: PATH_WITH_BIN, NO_COLOR: "1", ...env }).filter(([, v]) => v !== undefined),
      ) as Record<string, string>,
      detached: true, // its own process group, its pid the group id
      stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.#bytes.push(chunk);
      this.#wake();
    };
    this.proc.stdout!.on("data", keep);
    this.proc.stderr!.on("data", keep);
    if (stdin !== undefined) this.proc.stdin!.end(stdin);
    this.proc.on("exit", () => (this.leaderEndedAt = Date.now()));
    this.exited = new Promise((resolve) => this.proc.on("close", (code, signal) => resolve({ code, signal })));
    running.add(this);
    this.exited.then(() => running.delete(this));
  }

  /** Everything written to stdout and stderr so far, in arrival order. */
  output(): string {
    return Buffer.concat(this.#bytes).toString("utf8");
  }

  /** Sends `signal` to every process of the group. */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.proc.pid!, signal);
    } catch {
      // already gone
    }
  }

  /** Resolves once the output matches; fails (with the output) after `timeoutMs` or when the group ends first. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    this.exited.then(() => (ended = true));
    for (;;) {
      const match = this.output().match(pattern);
      if (match) return match;
      if (ended || Date.now() > deadline) {
        throw new Error(`${pattern} not seen (${this.cmd.join(" ")}; ${ended ? "ended" : "timed out"}):\n${this.output()}`);
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  /** Waits for the group to end; undefined after `timeoutMs`. */
  async end(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    return await Promise.race([this.exited, Bun.sleep(timeoutMs).then(() => undefined)]);
  }
}

/** Runs `cmd` to its end (SIGKILL of its group after `timeoutMs`). */
export async function runGroup(cmd: string[], env: Record<string, string | undefined> = {}, stdin?: string, timeoutMs = 30_000) {
  const group = new Group(cmd, env, stdin);
  const ended = await group.end(timeoutMs);
  if (ended === undefined) group.signal("SIGKILL");
  return { code: ended?.code, output: group.output() };
}

/** Kills every group still running, and waits for them. */
export async function stopGroups(): Promise<void> {
  const groups = [...running];
  for (const group of groups) group.signal("SIGKILL");
  await Promise.all(groups.map((g) => g.exited));
}
