/**
 * End to end: one Ctrl-C (SIGINT to the terminal's process group) or one
 * SIGTERM to the group drains the entry however it was started. Under
 * `deno task`, npm or npx the entry gets the signal twice, from the group
 * and forwarded by the runner: the second copy must not cut the drain short.
 * A SIGTERM to the started process alone (`kill PID`, a supervisor, `docker
 * stop`) drains it too where the README says to start it that way.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { startTarget } from "./helpers/target-server.ts";
import { startClient, stopAll } from "./helpers/processes.ts";
import { Group, stopGroups } from "./helpers/group.ts";
import { visit } from "./helpers/visitor.ts";

const target = startTarget();
const targetUrl = `http://127.0.0.1:${target.port}`;
afterEach(async () => {
  await stopAll();
  await stopGroups();
});
afterAll(() => target.stop());

/** Ways of starting the entry (the README's and the old ones), each as a person types it. */
const FORMS: Record<string, string[]> = {
  "deno task serve": ["deno", "task", "serve"],
  "deno task tunnel2 serve": ["deno", "task", "tunnel2", "serve"],
  "npx deno task serve": ["npx", "deno", "task", "serve"],
  "npm run tunnel2 -- serve": ["npm", "run", "tunnel2", "--", "serve"],
  "bun run src/server.ts": ["bun", "run", "src/server.ts"],
  "node_modules/.bin/bun run src/cli/main.ts serve": ["node_modules/.bin/bun", "run", "src/cli/main.ts", "serve"],
};
/** npm and npx end at once on SIGTERM and do not pass it on: under a supervisor, start the entry without them. */
const VIA_NPM = (form: string) => form.startsWith("npm") || form.startsWith("npx");

type Delivery = "SIGINT to the group" | "SIGTERM to the group" | "SIGTERM to the process";
const DELIVERIES: Delivery[] = ["SIGINT to the group", "SIGTERM to the group", "SIGTERM to the process"];

const cases = Object.keys(FORMS).flatMap((form) =>
  DELIVERIES.filter((d) => !(VIA_NPM(form) && d === "SIGTERM to the process")).map((d) => [form, d] as const)
);

describe("the entry drains on one signal", () => {
  test.each(cases)("%s, %s: the request in flight completes", async (form, delivery) => {
    const entry = new Group(FORMS[form], { PORT: "0", HOSTNAME: "127.0.0.1", DRAIN_TIMEOUT_MS: "10000" });
    const port = Number((await entry.waitFor(/entry listening .*address=http:\/\/127\.0\.0\.1:(\d+)/))[1]);
    await startClient("bun", { port }, "slow", targetUrl);
    const t0 = Date.now();
    const answer = visit(port, "slow", "/slow-head?ms=1500").then(async (r) => ({ status: r.status, body: await r.text(), at: Date.now() }));
    await Bun.sleep(300); // the request is at the target
    const signal = delivery.startsWith("SIGINT") ? "SIGINT" : "SIGTERM";
    if (delivery.endsWith("group")) entry.signal(signal);
    else entry.proc.kill(signal);
    const { at, ...response } = await answer;
    expect(response).toEqual({ status: 200, body: "late" });
    expect(at - t0).toBeGreaterThanOrEqual(1500);
    // The target answers 1500 ms in: a command that ended before that did not wait for it. (Not
    // \`at\`: the test may hear of the exit a few ms before it reads the last byte of the answer.)
    const answerReady = t0 + 1500;
    const ended = await entry.end();
    const log = entry.output();
    expect(log).toContain(`entry stopping signal=${signal}`);
    expect(log).toContain("drained abandoned=0");
    expect(log).toContain("entry stopped");
    expect(log).not.toContain("second signal");
    if (VIA_NPM(form)) {
      // npm and npx end by the signal they got (a shell shows 130 or 143); on
      // SIGTERM they end at once, while the entry goes on draining by itself.
      expect(ended).toEqual({ code: null, signal });
      if (signal === "SIGINT") expect(entry.leaderEndedAt!).toBeGreaterThanOrEqual(answerReady);
    } else {
      // The command returns only once the entry is done, with 0.
      expect(ended).toEqual({ code: 0, signal: null });
      expect(entry.leaderEndedAt!).toBeGreaterThanOrEqual(answerReady);
    }
  }, 40_000);
});
