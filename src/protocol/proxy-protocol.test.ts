import { describe, expect, test } from "bun:test";
import { proxyHeaderV2, splitAddress } from "./proxy-protocol.ts";

const hex = (bytes: Uint8Array | undefined) => bytes && [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

describe("PROXY protocol v2", () => {
  test("IPv4: signature, PROXY command, TCP4, 12 bytes of addresses and ports", () => {
    expect(hex(proxyHeaderV2("192.0.2.1:51000", "127.0.0.1:2222"))).toBe(
      "0d0a0d0a000d0a515549540a" + "21" + "11" + "000c" + "c0000201" + "7f000001" + "c738" + "08ae",
    );
  });

  test("IPv6, and IPv4 beside IPv6 mapped", () => {
    const v6 = proxyHeaderV2("[2001:db8::1]:443", "[::1]:22")!;
    expect(v6[13]).toBe(0x21);
    expect(hex(v6.subarray(16, 32))).toBe("20010db8000000000000000000000001");
    expect(hex(v6.subarray(32, 48))).toBe("00000000000000000000000000000001");
    const mixed = proxyHeaderV2("10.0.0.7:1000", "[::1]:22")!;
    expect(hex(mixed.subarray(16, 32))).toBe("00000000000000000000ffff0a000007");
  });

  test("addresses it cannot read give nothing", () => {
    expect(proxyHeaderV2("nonsense", "127.0.0.1:1")).toBeUndefined();
    expect(proxyHeaderV2("1.2.3.4:70000", "127.0.0.1:1")).toBeUndefined();
    expect(proxyHeaderV2("[1::2::3]:1", "[::1]:1")).toBeUndefined();
    expect(splitAddress("[::1]:22")).toEqual({ address: "::1", port: 22 });
  });
});
