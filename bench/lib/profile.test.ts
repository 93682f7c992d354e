import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { perfMapLines } from "./jitdump-perf-map.ts";
import { type CpuProfile, cpuProfileTop } from "./profile.ts";

describe("cpuProfileTop()", () => {
  const frame = (functionName: string, url = "", lineNumber = -1) => ({ functionName, url, lineNumber });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 3, 5] },
      { id: 2, callFrame: frame(""), children: [] }, // Bun: native work with no JS frame
      { id: 3, callFrame: frame("forward", `file://${join(import.meta.dir, "..", "..")}/src/entry/proxy.ts`, 242), children: [4] },
      { id: 4, callFrame: frame("send"), children: [] },
      { id: 5, callFrame: frame("(idle)"), children: [] },
    ],
    startTime: 0,
    endTime: 10_000,
    // A long wait before the third sample: counted once, not by its time.
    samples: [2, 3, 4, 4, 5, 2],
    timeDeltas: [1000, 1000, 5000, 1000, 1000, 1000],
  };

  test("counts self samples per function, labels native work and leaves idle out", () => {
    const top = cpuProfileTop(profile, 10);
    expect(top.samples).toBe(5);
    expect(top.rows).toEqual([
      { name: "(native, no JS frame)", share: 0.4 },
      { name: "send [native]", share: 0.4 },
      { name: "forward src/entry/proxy.ts:243", share: 0.2 },
    ]);
  });

  test("keeps only the last lastUs of the profile when asked", () => {
    const top = cpuProfileTop(profile, 10, 1500); // the samples at t=9000 (idle) and 10000
    expect(top.samples).toBe(1);
    expect(top.rows).toEqual([{ name: "(native, no JS frame)", share: 1 }]);
  });
});

describe("perfMapLines()", () => {
  test("turns JIT_CODE_LOAD records into perf map lines and skips the others", () => {
    const name = new TextEncoder().encode("JSC-FTL: forward#AAm6CE\0");
    const load = new Uint8Array(56 + name.length + 4);
    const l = new DataView(load.buffer);
    l.setUint32(0, 0, true); // JIT_CODE_LOAD
    l.setUint32(4, load.length, true);
    l.setBigUint64(32, 0x7f0012345600n, true); // code address
    l.setBigUint64(40, 0x1c0n, true); // code size
    load.set(name, 56);
    const other = new Uint8Array(24); // a JIT_CODE_CLOSE-like record
    new DataView(other.buffer).setUint32(0, 3, true);
    new DataView(other.buffer).setUint32(4, 24, true);
    const header = new Uint8Array(40);
    const h = new DataView(header.buffer);
    h.setUint32(0, 0x4a695444, true);
    h.setUint32(8, 40, true);
    h.setUint32(20, 4242, true);
    const dump = new Uint8Array([...header, ...load, ...other, 1, 2, 3]); // a last record cut short
    expect(perfMapLines(dump)).toEqual({ pid: 4242, lines: ["7f0012345600 1c0 JSC-FTL: forward#AAm6CE"] });
  });

  test("refuses a file that is not a JIT dump", () => {
    expect(() => perfMapLines(new Uint8Array(64))).toThrow("not a JIT dump");
  });
});
