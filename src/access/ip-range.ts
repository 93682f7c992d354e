/**
 * IP addresses and CIDR ranges, IPv4 and IPv6, for the allow and deny lists.
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as dual-stack sockets
 * report IPv4 visitors) is the IPv4 address it maps, and so is a mapped
 * range: `::ffff:192.0.2.0/120` is `192.0.2.0/24`. IPv6 ranges (`::/0`
 * among them) hold IPv6 addresses only, IPv4 ranges IPv4 ones.
 */

/** One address: its family and its bits as a number. */
export interface IpAddress {
  family: 4 | 6;
  bits: bigint;
}

/** One range: a family, the network's bits and the prefix length. */
export interface IpRange {
  family: 4 | 6;
  network: bigint;
  prefix: number;
  /** As the user wrote it, for messages and listings. */
  text: string;
}

const MAPPED_PREFIX = 0xffffn << 32n;
const LOW_32 = 0xffffffffn;

function parseIpv4(text: string): bigint | undefined {
  // By hand, not split and a regex: this runs for every request of a session with an IP list.
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 46; // a final "."
    if (code === 46) {
      if (digits === 0 || ++parts > 4) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57) {
      if (digits > 0 && part === 0) return undefined; // no leading zeros
      part = part * 10 + code - 48;
      if (++digits > 3 || part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return parts === 4 ? BigInt(value) : undefined;
}

function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9A-Fa-f:.]{2,45}$/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const pieces = half.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && halves[0].includes(".")) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let bits = 0n;
  for (const group of [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail]) bits = (bits << 16n) | BigInt(group);
  return bits;
}

/** Reads an address (IPv4, IPv6, `[IPv6]`, with an optional `%zone`); undefined when it is none. */
export function parseAddress(raw: string): IpAddress | undefined {
  let text = raw.trim();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const zone = text.indexOf("%");
  if (zone > 0) text = text.slice(0, zone);
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, bits: v4 };
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { family: 4, bits: v6 & LOW_32 };
  return { family: 6, bits: v6 };
}

/** Reads a range (`CIDR`, or an address alone for one address); undefined when it is none. */
export function parseRange(raw: string): IpRange | undefined {
  const text = raw.trim();
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const address = parseAddress(addressText);
  if (!address || (addressText.includes(":") && addressText.includes("%"))) return undefined;
  const written6 = addressText.includes(":");
  let prefix = written6 ? 128 : 32;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > prefix) return undefined;
    prefix = Number(prefixText);
  }
  // A mapped range written in IPv6 (::ffff:a.b.c.d/N, N >= 96) is the IPv4 range it maps; a wider one is IPv6 only.
  if (written6 && address.family === 4) {
    if (prefix < 96) return { family: 6, network: mask(MAPPED_PREFIX | address.bits, prefix, 128), prefix, text };
    prefix -= 96;
  }
  const width = address.family === 4 ? 32 : 128;
  return { family: address.family, network: mask(address.bits, prefix, width), prefix, text };
}

function mask(bits: bigint, prefix: number, width: number): bigint {
  if (prefix === 0) return 0n;
  return (bits >> BigInt(width - prefix)) << BigInt(width - prefix);
}

/** Whether `range` holds `address`. */
export function rangeHolds(range: IpRange, address: IpAddress): boolean {
  if (range.family !== address.family) return false;
  const width = range.family === 4 ? 32 : 128;
  return mask(address.bits, range.prefix, width) === range.network;
}

/** Why a text is not a range, or undefined when it is one. */
export function rangeProblem(text: string): string | undefined {
  return parseRange(text) ? undefined : `${JSON.stringify(text.slice(0, 60))} is not an IP address or CIDR range (e.g. 203.0.113.0/24, 2001:db8::/32)`;
}

/** A list of ranges, read once, asked per request. */
export class IpRanges {
  readonly ranges: readonly IpRange[];

  constructor(ranges: readonly IpRange[]) {
    this.ranges = ranges;
  }

  /** Reads ranges; throws Error naming the first one that is not a range. */
  static parse(texts: readonly string[]): IpRanges {
    return new IpRanges(texts.map((text) => {
      const range = parseRange(text);
      if (!range) throw new Error(rangeProblem(text));
      return range;
    }));
  }

  /** Whether any range holds the address; an address that does not parse is held by none. */
  holds(address: IpAddress | undefined): boolean {
    if (!address) return false;
    for (const range of this.ranges) if (rangeHolds(range, address)) return true;
    return false;
  }
}
