/**
 * End to end: no documented way of starting the client prints a token.
 * `npm run` and `deno task` print the command line they run (npm on stdout,
 * Deno on stderr, arguments and all), so the README passes tokens through
 * the config file (`tunnel2 config add-token SESSION -`) or TUNNEL_TOKEN,
 * never as arguments. Each form below runs against a real entry with
 * TUNNEL_SECRET (so the tokens are real ones, and are accepted), and every
 * byte the commands and the entries write is searched for the tokens.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sessionToken } from "../src/entry/session-token.ts";
import { startTarget } from "./helpers/target-server.ts";
import { type Entry, startEntry, stopAll } from "./helpers/processes.ts";
import { Group, runGroup, stopGroups } from "./helpers/group.ts";
import { visit } from "./helpers/visitor.ts";

const SECRET = crypto.randomUUID();
const target = startTarget();
const dir = mkdtempSync(join(tmpdir(), "tunnel2-leak-"));
let entries: Entry[] = [];
/** Every token a test used, and all output of the commands run: searched at the end too. */
const tokens = new Set<string>();
const outputs: string[] = [];

beforeAll(async () => {
  entries = [await startEntry("bun", { TUNNEL_SECRET: SECRET }), await startEntry("deno", { TUNNEL_SECRET: SECRET })];
}, 30_000);
afterEach(() => stopGroups());
afterAll(async () => {
  await stopGroups();
  await stopAll();
  target.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Text as written, and with terminal escapes taken out (a colour code could split a token). */
function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

function expectNoToken(output: string): void {
  outputs.push(output);
  for (const token of tokens) {
    expect(output.includes(token)).toBe(false);
    expect(plain(output).includes(token)).toBe(false);
  }
}

async function tokenOf(session: string): Promise<string> {
  const token = await sessionToken(SECRET, session);
  tokens.add(token);
  return token;
}

let configs = 0;
/** A config file of its own (0600), with these contents. */
function configFile(contents: object): string {
  const path = join(dir, `config-${++configs}.json`);
  writeFileSync(path, JSON.stringify(contents), { mode: 0o600 });
  return path;
}

/** The environment of a command: no TUNNEL_* of the test's own, no NO_COLOR (Deno colours its echo then). */
const clean = { TUNNEL_SECRET: undefined, TUNNEL_TOKEN: undefined, TUNNEL_SERVER: undefined, TUNNEL_SESSION: undefined, NO_COLOR: undefined };

interface Form {
  /** The command, with {server}, {session}, {port} and {target} filled in. */
  cmd: string;
  /** How the token reaches it. */
  token: "TUNNEL_TOKEN" | "config file" | "--token with bun";
}

/** The README's ways of starting a client, and the old scripts. */
const FORMS: Form[] = [
  { cmd: "npm run tunnel2 -- http {port} --server {server} --session {session}", token: "config file" },
  { cmd: "npx deno task tunnel2 http {port} --server {server} --session {session}", token: "config file" },
  { cmd: "deno task tunnel2 http {port} --server {server} --session {session}", token: "TUNNEL_TOKEN" },
  { cmd: "npx bun run src/cli/main.ts http {port} --server {server} --session {session}", token: "config file" },
  { cmd: "bun run src/cli/main.ts http {port} --server {server} --session {session}", token: "TUNNEL_TOKEN" },
  { cmd: "npm run tunnel2 -- http {port} --server {server} --session {session}", token: "TUNNEL_TOKEN" },
  { cmd: "npx bun run src/client.ts --server {server} --session {session} --to {target}", token: "TUNNEL_TOKEN" },
  { cmd: "bun run src/client.ts --server {server} --session {session} --to {target}", token: "TUNNEL_TOKEN" },
  { cmd: "npx deno task client --server {server} --session {session} --to {target}", token: "TUNNEL_TOKEN" },
  { cmd: "deno task client --server {server} --session {session} --to {target}", token: "TUNNEL_TOKEN" },
  // The flag is no documented way (the README says why), but bun itself prints no command line.
  { cmd: "bun run src/client.ts --server {server} --session {session} --to {target}", token: "--token with bun" },
  { cmd: "bun run src/cli/main.ts http {port} --server {server} --session {session}", token: "--token with bun" },
];

function fill(form: string, values: Record<string, string>): string[] {
  return form.split(" ").map((word) => word.replace(/\{(\w+)\}/g, (_, name) => values[name]));
}

describe("starting a client prints no token", () => {
  test.each(FORMS.map((form, i) => [`${form.cmd} (token: ${form.token})`, form, i] as const))("%s", async (_name, form, i) => {
    const entry = entries[i % 2];
    const session = `leak-${i}`;
    const token = await tokenOf(session);
    const server = `http://127.0.0.1:${entry.port}`;
    const args = fill(form.cmd, { server, session, port: String(target.port), target: `http://127.0.0.1:${target.port}` });
    const env: Record<string, string | undefined> = { ...clean, TUNNEL2_CONFIG: configFile({}) };
    if (form.token === "TUNNEL_TOKEN") env.TUNNEL_TOKEN = token;
    if (form.token === "config file") env.TUNNEL2_CONFIG = configFile({ tokens: { [session]: token } });
    if (form.token === "--token with bun") args.push("--token", token);
    const client = new Group(args, env);
    await client.waitFor(/Forwarding (\S+) ->/);
    const answer = await visit(entry.port, session, "/echo");
    expect(answer.status).toBe(200); // the token was real, and accepted
    await answer.arrayBuffer();
    client.signal("SIGINT");
    expect(await client.end()).toBeDefined();
    expectNoToken(client.output());
    expectNoToken(entry.output());
  }, 30_000);

  test("tunnel2 start runs the config file's tunnels, printing neither token", async () => {
    const [a, b] = [await tokenOf("start-a"), await tokenOf("start-b")];
    const config = configFile({
      server: `http://127.0.0.1:${entries[0].port}`,
      tokens: { "start-a": a, "start-b": b },
      tunnels: { "start-a": { to: String(target.port) }, "start-b": { to: `http://127.0.0.1:${target.port}` } },
    });
    for (const cmd of [["npm", "run", "tunnel2", "--", "start"], ["npx", "deno", "task", "tunnel2", "start"]]) {
      const client = new Group(cmd, { ...clean, TUNNEL2_CONFIG: config });
      await client.waitFor(/Forwarding (\S+) ->[^]*Forwarding (\S+) ->/);
      for (const session of ["start-a", "start-b"]) expect((await visit(entries[0].port, session, "/echo")).status).toBe(200);
      client.signal("SIGINT");
      expect(await client.end()).toBeDefined();
      expectNoToken(client.output());
    }
    expectNoToken(entries[0].output());
  }, 40_000);

  test("config add-token SESSION - (piped) and config show print no token; the file is 0600", async () => {
    const token = await tokenOf("saved");
    const path = join(dir, "saved", "config.json");
    for (const cmd of [["npm", "run", "tunnel2", "--"], ["npx", "deno", "task", "tunnel2"], ["npx", "bun", "run", "src/cli/main.ts"]]) {
      const added = await runGroup([...cmd, "config", "add-token", "saved", "-"], { ...clean, TUNNEL2_CONFIG: path }, `${token}\n`);
      expect(added.code).toBe(0);
      expect(added.output).toContain('Saved the token of session "saved"');
      expectNoToken(added.output);
      expect(JSON.parse(readFileSync(path, "utf8")).tokens.saved).toBe(token);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const shown = await runGroup([...cmd, "config", "show"], { ...clean, TUNNEL2_CONFIG: path });
      expect(shown.code).toBe(0);
      expect(shown.output).toContain('"saved": "(saved)"');
      expectNoToken(shown.output);
    }
  }, 40_000);

  test("a refused token is printed nowhere either: not by the client, not by the entry", async () => {
    const wrong = await tokenOf("someone-else"); // a real token, of another session
    tokens.add("f".repeat(64));
    const runs = [
      { cmd: ["npm", "run", "tunnel2", "--", "http", String(target.port), "--session", "refused"], env: { TUNNEL2_CONFIG: configFile({ tokens: { refused: wrong } }) } },
      { cmd: ["npx", "deno", "task", "client", "--session", "refused", "--to", `http://127.0.0.1:${target.port}`], env: { TUNNEL_TOKEN: "f".repeat(64) } },
      { cmd: ["bun", "run", "src/client.ts", "--session", "refused", "--to", `http://127.0.0.1:${target.port}`], env: { TUNNEL_TOKEN: wrong } },
    ];
    for (const [i, run] of runs.entries()) {
      const entry = entries[i % 2];
      const refused = await runGroup([...run.cmd, "--server", `http://127.0.0.1:${entry.port}`], { ...clean, ...run.env });
      expect(refused.code).toBe(1);
      expect(plain(refused.output)).toContain('Refused by the entry: Invalid token for session "refused"');
      expectNoToken(refused.output);
    }
    for (const entry of entries) {
      expect(entry.output()).toContain("uplink refused");
      expectNoToken(entry.output());
    }
  }, 40_000);

  test("all output, of every command and both entries, searched for every token again", () => {
    expect(tokens.size).toBeGreaterThan(FORMS.length);
    for (const output of [...outputs, ...entries.map((e) => e.output())]) expectNoToken(output);
  });
});
