/**
 * IP addresses as discovery needs them, beyond what `lib/netutil.ts` has: bytes ↔ text,
 * special-purpose networks, the relay check for addresses learned from other nodes, and
 * `/24` counting for the table's IP limits.
 *
 * Addresses travel as canonical text: dotted IPv4 (IPv4-mapped IPv6 is read as IPv4, as
 * geth's `To4` does), compressed lowercase IPv6.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net'
import { isLAN, isLoopback, Netlist } from '../netutil.js'

/** The 4 or 16 bytes of an IP literal (IPv4-mapped IPv6 gives 4); undefined for anything else. */
export function ipToBytes(ip: string): Buffer | undefined {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number))
  if (!isIPv6(ip) || ip.includes('%')) return undefined
  const bytes = ipv6Bytes(ip)
  return isMapped(bytes) ? bytes.subarray(12) : bytes
}

/** The canonical text of 4 or 16 address bytes; undefined for any other length. */
export function bytesToIp(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return [...bytes].join('.')
  if (bytes.length !== 16) return undefined
  if (isMapped(bytes)) return [...bytes.subarray(12)].join('.')
  const groups = [...Array(8).keys()].map((i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16))
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
}

/** The canonical text of an IP literal (`::ffff:1.2.3.4` → `1.2.3.4`), or undefined. */
export function canonicalIp(ip: string): string | undefined {
  const bytes = ipToBytes(ip)
  return bytes && bytesToIp(bytes)
}

/** True for an IPv4 address (after canonicalisation). */
export function isV4(ip: string): boolean {
  return ipToBytes(ip)?.length === 4
}

function isMapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16 || bytes[10] !== 0xff || bytes[11] !== 0xff) return false
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false
  return true
}

/** The 16 bytes of an IPv6 literal, a dotted IPv4 tail included. */
function ipv6Bytes(ip: string): Buffer {
  let text = ip
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number]
    text = `${text.slice(0, -dotted[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const double = text.indexOf('::')
  const head = double < 0 ? text : text.slice(0, double)
  const tail = double < 0 ? '' : text.slice(double + 2)
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  const groups = double < 0 ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

// RFC 5735, RFC 5156 and IANA's special-purpose registries, as geth's netutil lists them
const SPECIAL = new Netlist([
  ...['192.0.0.0/29', '192.0.0.9/32', '192.0.0.170/32', '192.0.0.171/32', '192.0.2.0/24', '192.31.196.0/24', '192.52.193.0/24'],
  ...['192.88.99.0/24', '192.175.48.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '255.255.255.255/32', '224.0.0.0/4'],
  ...['100::/64', '2001::/32', '2001:1::1/128', '2001:2::/48', '2001:3::/32', '2001:4:112::/48', '2001:5::/32', '2001:10::/28'],
  ...['2001:20::/28', '2001:db8::/32', '2002::/16', 'ff00::/8'],
])

/** True for multicast, broadcast, documentation and other special-purpose networks. */
export function isSpecial(ip: string): boolean {
  return SPECIAL.contains(ip)
}

/** True for 0.0.0.0 and ::. */
export function isUnspecified(ip: string): boolean {
  const bytes = ipToBytes(ip)
  return bytes !== undefined && bytes.every((b) => b === 0)
}

/**
 * Why an address relayed by `sender` (in a Neighbours packet or a record) is not a valid
 * target, or undefined when it is: geth's `CheckRelayIP`. Special networks are never valid,
 * loopback only from a loopback sender, LAN only from a LAN sender, so a remote host cannot
 * steer us at our own machine or network.
 */
export function relayIpError(sender: string, addr: string): string | undefined {
  if (ipToBytes(addr) === undefined) return 'invalid IP'
  if (isUnspecified(addr)) return 'zero address'
  if (isSpecial(addr)) return 'special network'
  if (isLoopback(addr) && !isLoopback(sender)) return 'loopback address from non-loopback host'
  if (isLAN(addr) && !isLAN(sender)) return 'LAN address from WAN host'
  return undefined
}

/**
 * Counts addresses per network prefix and refuses more than `limit` in one: geth's
 * `DistinctNetSet`, which keeps a table from being filled from one /24.
 */
export class DistinctNetSet {
  readonly #members = new Map<string, number>()

  constructor(
    readonly subnetBits: number,
    readonly limit: number,
  ) {}

  /** Adds `ip`; false (and nothing added) when its network already holds `limit`. */
  add(ip: string): boolean {
    const key = this.#key(ip)
    const n = this.#members.get(key) ?? 0
    if (n >= this.limit) return false
    this.#members.set(key, n + 1)
    return true
  }

  /** Removes one count of `ip`'s network. */
  remove(ip: string): void {
    const key = this.#key(ip)
    const n = this.#members.get(key)
    if (n === undefined) return
    if (n <= 1) this.#members.delete(key)
    else this.#members.set(key, n - 1)
  }

  /** Addresses counted in all. */
  get size(): number {
    let n = 0
    for (const c of this.#members.values()) n += c
    return n
  }

  #key(ip: string): string {
    const bytes = ipToBytes(ip) ?? Buffer.alloc(0)
    const bits = Math.min(this.subnetBits, bytes.length * 8)
    const whole = bits >> 3
    const prefix = Buffer.from(bytes.subarray(0, whole + (bits & 7 ? 1 : 0)))
    if (bits & 7) prefix[whole] = prefix[whole]! & ((0xff << (8 - (bits & 7))) & 0xff)
    return `${bytes.length === 4 ? 4 : 6}:${prefix.toString('hex')}`
  }
}
