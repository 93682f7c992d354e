import { describe, expect, test } from "bun:test";
import { TcpPorts } from "./tcp-ports.ts";
import { waitFor } from "../../test/helpers/wait.ts";

describe("TcpPorts", () => {
  test("a session keeps its port across a release within the grace, then loses it", async () => {
    const ports = new TcpPorts({ start: 20000, end: 20001 }, 50);
    const released: string[] = [];
    ports.onReleased = (session, port) => released.push(`${session}:${port}`);
    const a = ports.claim("a", undefined) as number;
    expect(a === 20000 || a === 20001).toBe(true);
    ports.release("a");
    expect(ports.claim("a", undefined)).toBe(a); // back within the grace
    expect(ports.claim("b", a)).toContain("taken by another tunnel");
    ports.release("a");
    await waitFor(() => released.length > 0);
    expect(released).toEqual([`a:${a}`]);
    expect(ports.sessionAt(a)).toBeUndefined();
    expect(ports.claim("b", a)).toBe(a);
  });

  test("refuses a port outside the range, a taken one, and a full range", () => {
    const ports = new TcpPorts({ start: 30000, end: 30000 }, 1000);
    expect(ports.claim("a", 29999)).toContain("outside this entry's TCP ports (30000-30000)");
    expect(ports.claim("a", undefined)).toBe(30000);
    expect(ports.claim("b", undefined)).toContain("No TCP port free");
    expect(new TcpPorts({ start: 1, end: 2 }, 1).claim("x", 1, (p) => p === 1)).toContain("taken");
    ports.close();
  });

  test("a session asking for another port moves to it", () => {
    const ports = new TcpPorts({ start: 100, end: 110 }, 1000);
    expect(ports.claim("a", 101)).toBe(101);
    expect(ports.claim("a", 105)).toBe(105);
    expect(ports.sessionAt(101)).toBeUndefined();
    expect(ports.held()).toEqual([[105, "a"]]);
    ports.close();
  });
});
