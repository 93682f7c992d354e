import { describe, expect, test } from "bun:test";
import { IpRanges, parseAddress, parseRange, rangeProblem } from "./ip-range.ts";

const holds = (ranges: string[], address: string) => IpRanges.parse(ranges).holds(parseAddress(address));

describe("parseAddress()", () => {
  test("reads IPv4, IPv6 in every short form, brackets and zones", () => {
    expect(parseAddress("203.0.113.7")).toEqual({ family: 4, bits: 0xcb007107n });
    expect(parseAddress("::1")).toEqual({ family: 6, bits: 1n });
    expect(parseAddress("2001:db8::")).toEqual({ family: 6, bits: 0x20010db8n << 96n });
    expect(parseAddress("[2001:db8::1]")).toEqual({ family: 6, bits: (0x20010db8n << 96n) | 1n });
    expect(parseAddress("fe80::1%eth0")).toEqual({ family: 6, bits: (0xfe80n << 112n) | 1n });
    expect(parseAddress("2001:DB8:0:0:0:0:0:1")).toEqual(parseAddress("2001:db8::1"));
  });

  test("an IPv4-mapped IPv6 address is its IPv4 address", () => {
    expect(parseAddress("::ffff:203.0.113.7")).toEqual(parseAddress("203.0.113.7"));
    expect(parseAddress("::ffff:cb00:7107")).toEqual(parseAddress("203.0.113.7"));
  });

  test("refuses what is not an address", () => {
    for (const bad of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1:2:3:4:5:6:7:8:9", "1::2::3", "::g", "1.2.3.4::", "localhost", "12345::"]) {
      expect({ bad, parsed: parseAddress(bad) }).toEqual({ bad, parsed: undefined });
    }
  });
});

describe("IpRanges", () => {
  test("IPv4 ranges hold what their prefix covers, and nothing else", () => {
    expect(holds(["203.0.113.0/24"], "203.0.113.255")).toBe(true);
    expect(holds(["203.0.113.0/24"], "203.0.114.0")).toBe(false);
    expect(holds(["203.0.113.7"], "203.0.113.7")).toBe(true);
    expect(holds(["203.0.113.7"], "203.0.113.8")).toBe(false);
    expect(holds(["0.0.0.0/0"], "198.51.100.1")).toBe(true);
    expect(holds(["10.1.2.3/8"], "10.200.0.1")).toBe(true); // host bits in the range are ignored
  });

  test("IPv6 ranges, and the two families kept apart", () => {
    expect(holds(["2001:db8::/32"], "2001:db8:ffff::1")).toBe(true);
    expect(holds(["2001:db8::/32"], "2001:db9::1")).toBe(false);
    expect(holds(["::/0"], "2001:db8::1")).toBe(true);
    expect(holds(["::/0"], "203.0.113.7")).toBe(false);
    expect(holds(["0.0.0.0/0"], "2001:db8::1")).toBe(false);
  });

  test("a mapped visitor matches its IPv4 rule, and a mapped rule its IPv4 visitor", () => {
    expect(holds(["203.0.113.0/24"], "::ffff:203.0.113.9")).toBe(true);
    expect(holds(["::ffff:203.0.113.0/120"], "203.0.113.9")).toBe(true);
    expect(holds(["::ffff:203.0.113.0/120"], "203.0.112.9")).toBe(false);
  });

  test("an address that does not parse is held by no range, not even 0.0.0.0/0", () => {
    expect(IpRanges.parse(["0.0.0.0/0", "::/0"]).holds(parseAddress("unknown"))).toBe(false);
  });

  test("bad ranges are named", () => {
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "nope", "fe80::1%eth0/64"]) {
      expect({ bad, range: parseRange(bad) }).toEqual({ bad, range: undefined });
    }
    expect(rangeProblem("10.0.0.0/33")).toBe('"10.0.0.0/33" is not an IP address or CIDR range (e.g. 203.0.113.0/24, 2001:db8::/32)');
    expect(() => IpRanges.parse(["10.0.0.0/8", "x"])).toThrow('"x" is not an IP address or CIDR range');
  });
});
