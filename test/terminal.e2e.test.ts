/**
 * End to end, on a real terminal: tmux runs the CLI in a 120x30 pane, as a
 * person would. The token is typed unseen into `tunnel2 config add-token`,
 * `tunnel2 http` shows the public URL and its status line, the URL read off
 * the screen answers, and Ctrl-C ends the command with a normal disconnect
 * (1000) at the entry. Without tmux the tests skip and say so.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sessionToken } from "../src/entry/session-token.ts";
import { startTarget } from "./helpers/target-server.ts";
import { startEntry, stopAll } from "./helpers/processes.ts";
import { PATH_WITH_BIN, ROOT } from "./helpers/group.ts";
import { eventually } from "./helpers/wait.ts";

const TMUX = Bun.which("tmux");
if (!TMUX) console.warn("SKIP test/terminal.e2e.test.ts: tmux is not installed (apt-get install tmux)");

const SECRET = crypto.randomUUID();
const dir = mkdtempSync(join(tmpdir(), "tunnel2-terminal-"));
const socket = `tunnel2-test-${process.pid}`; // a tmux server of our own, killed at the end
const tmuxConf = join(dir, "tmux.conf");
writeFileSync(tmuxConf, "set -g history-limit 10000\n");
const configPath = join(dir, "config.json");
const target = TMUX ? startTarget() : undefined;

/** The tmux server's (and so the shells') environment: no TUNNEL_* of the test run's own. */
const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("TUNNEL")));

function tmux(...args: string[]): string {
  const run = Bun.spawnSync([TMUX!, "-L", socket, "-f", tmuxConf, ...args], {
    cwd: ROOT,
    env: { ...environment, PATH: PATH_WITH_BIN, TUNNEL2_CONFIG: configPath, TERM: "xterm-256color" },
  });
  if (run.exitCode !== 0) throw new Error(`tmux ${args.join(" ")}: ${run.stderr.toString()}`);
  return run.stdout.toString();
}

/** The pane's whole text, scrollback included, wrapped lines joined. */
const screen = (name: string) => tmux("capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", name);

async function waitForScreen(name: string, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  try {
    return await eventually(() => screen(name).match(pattern) ?? undefined, timeoutMs, 100);
  } catch {
    throw new Error(`${pattern} not on the screen of ${name}:\n${screen(name)}`);
  }
}

/**
 * Types `command` at an interactive shell in a new detached 120x30 session,
 * as a person would (job control on: Ctrl-C reaches the command's process
 * group, not the shell); the shell then prints how it ended.
 */
async function type(name: string, command: string): Promise<void> {
  tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "30", "-c", ROOT, "bash --norc --noprofile -i");
  await waitForScreen(name, /[$#] $/m); // the prompt
  tmux("send-keys", "-t", name, "-l", `${command}; echo "[ended $?]"`);
  tmux("send-keys", "-t", name, "Enter");
}

/** The command's exit status, once it ended (128 + n: killed by signal n). */
const exitStatus = async (name: string) => Number((await waitForScreen(name, /\[ended (\d+)\]/, 10_000))[1]);

afterAll(async () => {
  if (TMUX) {
    try {
      const socketPath = tmux("display-message", "-p", "#{socket_path}").trim();
      tmux("kill-server");
      rmSync(socketPath, { force: true }); // tmux leaves it behind
    } catch {
      // no server left
    }
  }
  target?.stop();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const FORMS = { bun: "bun run src/cli/main.ts", deno: "deno task tunnel2" } as const;

describe.skipIf(!TMUX)("tunnel2 on a terminal (tmux)", () => {
  test.each(Object.keys(FORMS) as (keyof typeof FORMS)[])("%s: token typed unseen, URL and status line on screen, Ctrl-C disconnects normally", async (runtime) => {
    const cli = FORMS[runtime];
    const entry = await startEntry(runtime, { TUNNEL_SECRET: SECRET });
    const session = `term-${runtime}`;
    const token = await sessionToken(SECRET, session);

    // The token, typed at the prompt: saved, never shown.
    await type(`add-${runtime}`, `${cli} config add-token ${session} -`);
    await waitForScreen(`add-${runtime}`, /not shown/);
    tmux("send-keys", "-t", `add-${runtime}`, "-l", token);
    tmux("send-keys", "-t", `add-${runtime}`, "Enter");
    await waitForScreen(`add-${runtime}`, /Saved the token of session "term-/);
    expect(await exitStatus(`add-${runtime}`)).toBe(0);
    expect(screen(`add-${runtime}`)).not.toContain(token);
    expect(JSON.parse(readFileSync(configPath, "utf8")).tokens[session]).toBe(token);

    // The tunnel: URL, then the status line.
    const name = `http-${runtime}`;
    await type(name, `${cli} http ${target!.port} --server http://127.0.0.1:${entry.port} --session ${session}`);
    const url = (await waitForScreen(name, /Forwarding (http:\/\/\S+) -> http:\/\/127\.0\.0\.1:\d+/))[1];
    expect(url).toBe(`http://${session}.localhost:${entry.port}`);
    await waitForScreen(name, /Ctrl-C to stop/);
    await waitForScreen(name, /uplinks 2\/2 on 127\.0\.0\.1:\d+ · \d+\.\d req\/s \(last min\) · p50 .* · last error: none/);

    // The URL as shown answers (curl resolves *.localhost to loopback itself; not
    // spawnSync: the target runs in this process).
    const curl = Bun.spawn(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", `${url}/echo`], { stdout: "pipe" });
    expect(await new Response(curl.stdout).text()).toBe("200");

    // Ctrl-C: the command ends (0), its uplinks close normally.
    tmux("send-keys", "-t", name, "C-c");
    expect(await exitStatus(name)).toBe(0);
    await eventually(() => (entry.output().match(new RegExp(`uplink disconnected session=${session} .*code=1000`, "g"))?.length === 2) || undefined, 5000);
    expect(entry.output()).not.toMatch(new RegExp(`uplink disconnected session=${session} .*code=(?!1000)`));
    expect(screen(name)).not.toContain(token);
    expect(entry.output()).not.toContain(token);
  }, 60_000);
});
