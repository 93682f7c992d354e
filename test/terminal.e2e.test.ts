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
async function type(name: string, command: string, size: [columns: number, rows: number] = [120, 30]): Promise<void> {
  tmux("new-session", "-d", "-s", name, "-x", String(size[0]), "-y", String(size[1]), "-c", ROOT, "bash --norc --noprofile -i");
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

/** The rows the pane shows now, as the terminal draws them (wrapped lines as the rows they take). */
const rows = (name: string) => tmux("capture-pane", "-p", "-t", name).split("\n");

describe.skipIf(!TMUX)("tunnel2 on an 80x24 terminal", () => {
  test("one status line that never wraps, request and log lines above it, redrawn to a new width", async () => {
    const entry = await startEntry("bun");
    const name = "narrow";
    await type(name, `bun run src/cli/main.ts http ${target!.port} --server http://127.0.0.1:${entry.port} --session narrow-one`, [80, 24]);
    const url = (await waitForScreen(name, /Forwarding (http:\/\/\S+) ->/))[1];
    await waitForScreen(name, /uplinks 2\/2 ·/);
    for (let i = 0; i < 5; i++) {
      const curl = Bun.spawn(["curl", "-sS", "-o", "/dev/null", `${url}/echo?n=${i}`]);
      await curl.exited;
    }
    await waitForScreen(name, /GET +\/echo\?n=4 200 /);
    // A few redraws later: still one status line, on the last row used, no row wider than the terminal.
    await eventually(() => {
      const shown = rows(name);
      const status = shown.filter((row) => row.includes("uplinks 2/2"));
      return status.length === 1 && shown.every((row) => row.length <= 80) ? true : undefined;
    }, 5000, 100);
    const shown = rows(name).filter((row) => row.trim() !== "");
    const statusAt = shown.findIndex((row) => row.includes("uplinks 2/2"));
    expect(statusAt).toBe(shown.length - 1);
    const requests = shown.filter((row) => /^\d\d:\d\d:\d\d GET +\/echo\?n=\d 200 [\d.]+ ms$/.test(row));
    expect(requests.length).toBe(5);
    expect(shown.filter((row) => /uplinks.*\d{4}-\d\d-\d\dT/.test(row))).toEqual([]); // no log line glued on
    expect(shown[statusAt].length).toBeLessThan(80);
    expect(shown[statusAt]).toMatch(/ · inspector 127\.0\.0\.1:\d+( ·|$)/); // before what a narrow terminal cuts
    // Resized narrower: redrawn to the new width, still one row.
    tmux("resize-window", "-t", name, "-x", "50", "-y", "24");
    try {
      await eventually(() => {
        const now = rows(name).filter((row) => row.includes("uplinks 2/2"));
        return now.length === 1 && now[0].length <= 49 ? true : undefined;
      }, 5000, 100);
    } catch (err) {
      throw new Error(`${(err as Error).message}; width ${tmux("display-message", "-p", "-t", name, "#{window_width}")}:\n${rows(name).join("\n")}`);
    }
    tmux("send-keys", "-t", name, "C-c");
    expect(await exitStatus(name)).toBe(0);
  }, 60_000);
});

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
    await waitForScreen(name, /uplinks 2\/2 · \d+\.\d req\/s · p50 .* · no errors/);

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
