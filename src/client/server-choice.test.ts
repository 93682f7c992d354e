import { describe, expect, test } from "bun:test";
import { firstServer, nextServer, type ServerChoice, type UplinkOutcome, uplinksOn } from "./server-choice.ts";

const failed: UplinkOutcome = { healthy: false };
const healthyLost: UplinkOutcome = { healthy: true };
const goAway: UplinkOutcome = { goAway: true, healthy: false };

/** Feeds `outcomes` in turn from the first server: the servers dialled after each, and the backoff steps waited. */
function run(count: number, outcomes: UplinkOutcome[], from: ServerChoice = firstServer()) {
  let choice = from;
  const dialled: number[] = [];
  const steps: number[] = [];
  for (const outcome of outcomes) {
    const next = nextServer(choice, count, outcome);
    choice = next.choice;
    dialled.push(choice.index);
    steps.push(next.backoffStep);
  }
  return { dialled, steps, choice };
}

describe("server choice", () => {
  test("every uplink starts on the first server", () => {
    expect(firstServer()).toEqual({ index: 0, failures: 0 });
  });

  test("one server: the backoff steps are those of before (0, 1, 2, … per failure)", () => {
    const { dialled, steps } = run(1, Array(5).fill(failed));
    expect(dialled).toEqual([0, 0, 0, 0, 0]);
    expect(steps).toEqual([0, 1, 2, 3, 4]);
  });

  test("failed connects move on in turn, wrapping round; the backoff grows once per full round", () => {
    const { dialled, steps } = run(3, Array(9).fill(failed));
    expect(dialled).toEqual([1, 2, 0, 1, 2, 0, 1, 2, 0]);
    expect(steps).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
  });

  test("a lost healthy uplink moves to the next server at once-ish (step 0), the count starting afresh", () => {
    const worn = run(2, Array(6).fill(failed)).choice; // backoff grown to step 2
    const { dialled, steps } = run(2, [healthyLost, failed, failed], worn);
    expect(dialled).toEqual([(worn.index + 1) % 2, worn.index, (worn.index + 1) % 2]);
    expect(steps).toEqual([0, 0, 1]);
  });

  test("an uplink lost soon after its welcome keeps counting, so a flapping entry backs off", () => {
    expect(run(1, [failed, failed, failed]).steps).toEqual([0, 1, 2]);
  });

  test("go-away prefers the next server, with no backoff and a fresh count", () => {
    const worn = run(2, Array(6).fill(failed)).choice;
    const after = nextServer(worn, 2, goAway);
    expect(after).toEqual({ choice: { index: (worn.index + 1) % 2, failures: 0 }, backoffStep: 0 });
    expect(nextServer(after.choice, 2, failed).backoffStep).toBe(0);
  });

  test("two entries, the first dead: the second is dialled after the first failure, with step 0", () => {
    expect(run(2, [failed])).toEqual({ dialled: [1], steps: [0], choice: { index: 1, failures: 1 } });
  });
});

describe("uplinksOn()", () => {
  test("names the entries the up uplinks are on, counting each when split", () => {
    expect(uplinksOn([undefined, undefined])).toBe("");
    expect(uplinksOn(["http://a:1", "http://a:1"])).toBe(" on a:1");
    expect(uplinksOn(["https://a.example.com", undefined, "http://b:2", "https://a.example.com"])).toBe(" on a.example.com ×2, b:2 ×1");
  });
});
