/**
 * IP address classes and CIDR lists, as go-ethereum's `p2p/netutil` defines them: what
 * counts as loopback or LAN (exempt from per-address limits), what may be dialled at all,
 * and `netrestrict` lists that confine dials and accepts to given networks.
 * @module
 */
import { BlockList, isIP } from 'node:net'
import { InvalidOptionError } from './errors.js'

/** An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, as a dual-stack listener reports) as plain IPv4. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  return m ? m[1]! : ip
}

function family(ip: string): 'ipv4' | 'ipv6' | undefined {
  const v = isIP(ip)
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined
}

function list(cidrs: readonly string[]): BlockList {
  const b = new BlockList()
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split('/')
    b.addSubnet(net!, Number(bits), family(net!)!)
  }
  return b
}

const loopback = list(['127.0.0.0/8', '::1/128'])
// go-ethereum's lan4 and lan6.
const lan = list(['0.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fe80::/10', 'fc00::/7'])
const notUnicast = list(['0.0.0.0/32', '255.255.255.255/32', '224.0.0.0/4', '::/128', 'ff00::/8'])

function contains(b: BlockList, ip: string): boolean {
  const n = normalizeIp(ip)
  const f = family(n)
  return f !== undefined && b.check(n, f)
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(ip: string): boolean {
  return contains(loopback, ip)
}

/** True for loopback and private addresses (go-ethereum's `IsLAN`): exempt from per-address limits. */
export function isLAN(ip: string): boolean {
  return isLoopback(ip) || contains(lan, ip)
}

/**
 * True for an IP literal that names one host: not a name, not unspecified (0.0.0.0, ::),
 * not broadcast or multicast. Only such addresses are dialled on a remote's word.
 */
export function isDialableIp(ip: string): boolean {
  const n = normalizeIp(ip)
  return family(n) !== undefined && !contains(notUnicast, n)
}

/** A list of networks, for `netrestrict`. */
export class Netlist {
  readonly cidrs: readonly string[]
  #list: BlockList

  /** @throws {InvalidOptionError} naming `option` when an entry is not `address/bits` */
  constructor(cidrs: readonly string[], option = 'netrestrict') {
    for (const [i, cidr] of cidrs.entries()) {
      const m = /^([^/]+)\/(\d{1,3})$/.exec(typeof cidr === 'string' ? cidr : '')
      const f = m ? family(m[1]!) : undefined
      if (!m || !f || Number(m[2]) > (f === 'ipv4' ? 32 : 128)) {
        throw new InvalidOptionError(option, `entry ${i} (${JSON.stringify(cidr)}) is not a CIDR network like "10.0.0.0/8" or "fd00::/8"`)
      }
    }
    this.cidrs = [...cidrs]
    this.#list = list(this.cidrs)
  }

  /** True when `ip` lies in one of the networks. */
  contains(ip: string): boolean {
    return contains(this.#list, ip)
  }
}
