import { describe, expect, test } from "bun:test";
import { SessionRegistry } from "./session-registry.ts";
import type { Uplink } from "./uplink.ts";

const uplink = (id: string) => ({ id, session: "demo", accepting: true, activeStreams: 0 }) as unknown as Uplink;

describe("SessionRegistry", () => {
  test("the newest uplink is the session's (its rules hold); when it goes, the one before it is", () => {
    const registry = new SessionRegistry();
    const [a, b, c] = [uplink("a"), uplink("b"), uplink("c")];
    for (const u of [a, b, c]) registry.add(u);
    expect(registry.get("demo")!.newest).toBe(c);
    registry.remove(c);
    expect(registry.get("demo")!.newest).toBe(b);
    registry.remove(a);
    expect(registry.get("demo")!.newest).toBe(b);
    registry.add(a);
    expect(registry.get("demo")!.newest).toBe(a);
    registry.remove(a);
    registry.remove(b);
    expect(registry.get("demo")).toBeUndefined();
  });

  test("holding events: the first uplink holds the session, the last one's leaving releases it", () => {
    const events: string[] = [];
    const registry = new SessionRegistry({ held: (s) => events.push(`held ${s}`), released: (s) => events.push(`released ${s}`) });
    const [a, b] = [uplink("a"), uplink("b")];
    registry.add(a);
    registry.add(b);
    registry.remove(a);
    registry.remove(b);
    expect(events).toEqual(["held demo", "released demo"]);
  });
});
