/**
 * IP address forms shared by the per-address limits and the peer-URL rules: the 16-bit groups
 * of an IPv6 address, and the IPv4 address that some IPv6 forms carry (so that a loopback or
 * private IPv4 address cannot pass in IPv6 clothing). Pure.
 */
import { isIP } from 'node:net';

/**
 * The eight 16-bit groups of an IPv6 address, `::` expanded and a dotted IPv4 tail written as
 * two groups; undefined for anything that is not an IPv6 address.
 */
export function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((group) => parseInt(group, 16));
}

function dottedOf(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one:
 * IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96), IPv4-translated (::ffff:0:0:0/96),
 * NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
 */
export function embeddedIPv4(groups: readonly number[]): string | undefined {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const zeroTo = (n: number): boolean => groups.slice(0, n).every((g) => g === 0);
  if (zeroTo(5) && (g5 === 0xffff || g5 === 0)) return dottedOf(g6, g7);
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return dottedOf(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return dottedOf(g6, g7);
  }
  if (g0 === 0x2002) return dottedOf(g1, g2);
  return undefined;
}
