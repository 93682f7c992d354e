/**
 * The PROXY protocol v2 header (haproxy's proxy-protocol.txt, section 2.2)
 * a target reads first to learn the visitor's address: a 12-byte signature,
 * version 2 / PROXY, the family (TCP over IPv4 or IPv6), the length, then
 * source and destination addresses and ports.
 */
const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** An address and port as `ADDR:PORT` or `[ADDR]:PORT`. */
export function splitAddress(text: string): { address: string; port: number } | undefined {
  const match = /^\[?([0-9A-Fa-f:.]+?)\]?:(\d{1,5})$/.exec(text);
  if (!match || Number(match[2]) > 65535) return undefined;
  return { address: match[1], port: Number(match[2]) };
}

function ipv4(address: string): number[] | undefined {
  const parts = address.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.map(Number);
}

function ipv6(address: string): number[] | undefined {
  if (!address.includes(":")) return undefined;
  let text = address;
  // A trailing dotted quad (::ffff:1.2.3.4) is the last 32 bits.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (quad) {
    const v4 = ipv4(quad[1]);
    if (!v4) return undefined;
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    text = text.slice(0, -quad[1].length).replace(/:$/, quad[1] === text ? "" : ":");
    if (text.endsWith(":") && !text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const words = (s: string) => (s === "" ? [] : s.split(":").map((w) => (/^[0-9A-Fa-f]{1,4}$/.test(w) ? parseInt(w, 16) : NaN)));
  const head = words(halves[0]);
  const rest = halves.length === 2 ? words(halves[1]) : [];
  const missing = 8 - tail.length - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill(0), ...rest, ...tail];
  if (all.length !== 8 || all.some(Number.isNaN)) return undefined;
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

/**
 * The v2 header for a connection from `source` to `destination` (each
 * `ADDR:PORT`); both IPv4, or both taken as IPv6 (an IPv4 one mapped).
 * Undefined when an address cannot be read.
 */
export function proxyHeaderV2(source: string, destination: string): Uint8Array | undefined {
  const from = splitAddress(source);
  const to = splitAddress(destination);
  if (!from || !to) return undefined;
  const v4From = ipv4(from.address);
  const v4To = ipv4(to.address);
  let family: number;
  let addresses: number[];
  if (v4From && v4To) {
    family = 0x11; // AF_INET, STREAM
    addresses = [...v4From, ...v4To];
  } else {
    const mapped = (a: string) => ipv4(a) ? ipv6(`::ffff:${a}`) : ipv6(a);
    const a = mapped(from.address);
    const b = mapped(to.address);
    if (!a || !b) return undefined;
    family = 0x21; // AF_INET6, STREAM
    addresses = [...a, ...b];
  }
  const body = [...addresses, from.port >> 8, from.port & 0xff, to.port >> 8, to.port & 0xff];
  return new Uint8Array([...SIGNATURE, 0x21, family, body.length >> 8, body.length & 0xff, ...body]);
}
