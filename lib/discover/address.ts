/**
 * Which IP address a node should advertise in its enode URL and record. Pure functions of
 * the listen address, an explicit choice, the routing table and the interface list, so the
 * decision is testable without touching the machine; {@link advertisedIp} feeds them the
 * machine's own (`/proc/net/route`, `os.networkInterfaces()`).
 *
 * The order: an explicit address (`extip`) › the listen address when it is not a wildcard ›
 * the address of the interface that holds the default route › the first non-internal
 * IPv4 address › 127.0.0.1, with a warning that others cannot reach it. Addresses learned
 * from peers later take precedence over all but `extip` (see `LocalNode`).
 * @module
 */
import { readFileSync } from 'node:fs'
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'
import { canonicalIp, isUnspecified } from './ip.js'

/** Where the advertised address came from. */
export type AddressSource = 'extip' | 'listen' | 'default-route' | 'interface' | 'loopback'

/** The chosen address, why, and a warning when it is a poor choice. */
export interface AdvertisedAddress {
  ip: string
  source: AddressSource
  warning?: string
}

/** What {@link pickAdvertisedIp} decides from. */
export interface AddressFacts {
  /** The host the node listens on (`0.0.0.0`, `::`, `` or an IP). */
  listenHost: string
  /** An explicit address to advertise. */
  extip?: string
  /** The text of `/proc/net/route`, when readable. */
  routeTable?: string
  /** `os.networkInterfaces()`. */
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>
}

/**
 * Interfaces holding an IPv4 default route, lowest metric first, from `/proc/net/route`
 * (columns: Iface Destination Gateway Flags RefCnt Use Metric Mask …, hex little-endian).
 */
export function defaultRouteInterfaces(routeTable: string): string[] {
  const RTF_UP = 0x1
  const routes: { iface: string; metric: number }[] = []
  for (const line of routeTable.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 8) continue
    const [iface, destination, , flags, , , metric, mask] = cols
    if (destination !== '00000000' || mask !== '00000000') continue
    if ((parseInt(flags!, 16) & RTF_UP) === 0) continue
    routes.push({ iface: iface!, metric: Number(metric) })
  }
  return routes.sort((a, b) => a.metric - b.metric).map((r) => r.iface)
}

/** The first usable (not link-local) IPv4 address of an interface. */
function ipv4Of(infos: NetworkInterfaceInfo[] | undefined): string | undefined {
  return infos?.find((i) => i.family === 'IPv4' && !i.address.startsWith('169.254.'))?.address
}

/** Decides the address to advertise; see the module comment for the order. */
export function pickAdvertisedIp(facts: AddressFacts): AdvertisedAddress {
  if (facts.extip !== undefined) {
    const ip = canonicalIp(facts.extip)
    if (ip === undefined) throw new RangeError(`extip must be an IP address, got ${JSON.stringify(facts.extip)}`)
    return { ip, source: 'extip' }
  }
  const listen = facts.listenHost === '' ? undefined : canonicalIp(facts.listenHost)
  if (listen !== undefined && !isUnspecified(listen)) return { ip: listen, source: 'listen' }
  for (const iface of defaultRouteInterfaces(facts.routeTable ?? '')) {
    const ip = ipv4Of(facts.interfaces[iface])
    if (ip) return { ip, source: 'default-route' }
  }
  for (const infos of Object.values(facts.interfaces)) {
    const ip = ipv4Of(infos?.filter((i) => !i.internal))
    if (ip) return { ip, source: 'interface' }
  }
  return {
    ip: '127.0.0.1',
    source: 'loopback',
    warning: 'no network interface with an IPv4 address was found: advertising 127.0.0.1, which only this machine can reach; set extip',
  }
}

/** Every non-internal address of the machine with its interface name (for printing one enode per interface). */
export function interfaceAddresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): { name: string; ip: string }[] {
  const out: { name: string; ip: string }[] = []
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      if (info.internal || info.address.startsWith('fe80:') || info.address.startsWith('169.254.')) continue
      out.push({ name, ip: canonicalIp(info.address) ?? info.address })
    }
  }
  return out
}

/** {@link pickAdvertisedIp} on this machine's routing table and interfaces. */
export function advertisedIp(listenHost: string, extip?: string): AdvertisedAddress {
  let routeTable: string | undefined
  try {
    routeTable = readFileSync('/proc/net/route', 'utf8')
  } catch {
    routeTable = undefined
  }
  return pickAdvertisedIp({ listenHost, ...(extip !== undefined && { extip }), ...(routeTable !== undefined && { routeTable }), interfaces: networkInterfaces() })
}
