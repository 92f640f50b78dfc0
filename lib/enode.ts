/**
 * enode URLs, the text form of a v4 node identity and address, with go-ethereum's
 * (p2p/enode/urlv4.go) semantics:
 *
 * - complete: `enode://<128 hex pubkey>@<host>:<tcp-port>[?discport=<udp-port>]`, where the
 *   host is an IPv4 address, a bracketed IPv6 address or a DNS name, and the UDP port
 *   defaults to the TCP port;
 * - incomplete: `enode://<128 hex pubkey>`, an identity whose address discovery must find;
 * - a node record, `enr:<base64url>` (EIP-778), verified and read for its key and address.
 *
 * Where geth is lenient by accident of Go's URL parser (an unbracketed IPv6 host, a path or
 * fragment after the port, an empty host) we refuse instead, because such URLs are typos more
 * often than intent and geth would silently drop part of them.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net'
import { isValidPublicKey, keccak256 } from './crypto/index.js'
import { Enr, InvalidEnrError } from './enr.js'
import { InvalidEnodeError, InvalidOptionError } from './errors.js'

/** A parsed enode URL. */
export interface Enode {
  /** The node's 64-byte secp256k1 public key (X‖Y, no 0x04 prefix). */
  publicKey: Buffer
  /** The node ID: hex keccak256 of `publicKey`, 64 lowercase characters. */
  id: string
  /**
   * An IP literal in canonical form (IPv6 without brackets, IPv4-mapped IPv6 as IPv4) or a
   * DNS name to resolve at dial time; absent for an incomplete URL.
   */
  host?: string
  /** The RLPx (TCP) port; absent for an incomplete URL or a record without a `tcp` entry. */
  tcpPort?: number
  /** The discovery (UDP) port, equal to `tcpPort` unless `?discport=` (or the record) says otherwise. */
  udpPort?: number
  /** The signed node record, when the node was given as `enr:…`. */
  record?: Enr
}

/** What {@link formatEnode} needs; an {@link Enode} qualifies. */
export interface EnodeFields {
  /** The 64-byte public key. */
  publicKey: Uint8Array
  /** IP literal (IPv6 without brackets) or DNS name; omit for an incomplete URL. */
  host?: string
  /** The TCP port; required when `host` is set, unless `udpPort` is (then it is written as 0). */
  tcpPort?: number
  /** The UDP port; defaults to `tcpPort`. */
  udpPort?: number
}

const PREFIX = 'enode://'
const USAGE = 'expected enode://<128 hex chars>@host:port[?discport=port]'
const HEX = /^[0-9a-fA-F]*$/
const DNS_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/
const MAPPED_IPV4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/

/**
 * The node ID of a public key: hex keccak256 of its 64 bytes.
 * @throws {InvalidOptionError} when `publicKey` is not 64 bytes
 */
export function nodeId(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 64) {
    throw new InvalidOptionError('publicKey', `must be 64 bytes, got ${describeLength(publicKey)}`)
  }
  return keccak256(publicKey).toString('hex')
}

/**
 * Parses a complete or incomplete enode URL, or an `enr:` node record (whose signature is
 * checked; the result then carries it as `record`).
 * @throws {InvalidEnodeError} naming what is wrong: the prefix, the key's hex, length or
 *   curve membership, the host, the port or the discport; for a record, why it is invalid
 */
export function parseEnode(url: string): Enode {
  const fail: Fail = (reason) => {
    throw new InvalidEnodeError(String(url), reason)
  }
  if (typeof url !== 'string') fail(`expected a string, got ${typeof url}`)
  if (url !== url.trim()) fail('has leading or trailing whitespace')
  if (url.startsWith('enr:')) return enodeOfRecord(url, fail)
  if (!url.startsWith(PREFIX)) fail(`missing 'enode://' or 'enr:' prefix (${USAGE})`)

  const { authority, query, trailer } = splitUrl(url.slice(PREFIX.length))
  const at = authority.lastIndexOf('@')
  const publicKey = parsePublicKey(at < 0 ? authority : authority.slice(0, at), fail)
  const id = nodeId(publicKey)
  if (trailer !== '') fail(`unexpected ${JSON.stringify(trailer)}: enode URLs have no path or fragment`)
  if (at < 0) {
    // geth's incomplete form is the key alone; a query without an address has no meaning
    if (query !== undefined) fail(`missing '@host:port' before the query (${USAGE})`)
    return { publicKey, id }
  }
  const { host, tcpPort } = parseHostPort(authority.slice(at + 1), fail)
  const udpPort = parseDiscport(query, fail) ?? tcpPort
  return { publicKey, id, host, tcpPort, udpPort }
}

/**
 * The {@link Enode} a node record describes: its key, and its IPv4 endpoint (else its IPv6
 * one). Without an IP the result is incomplete, as an `enode://<key>` URL is.
 */
export function enodeFromRecord(record: Enr): Enode {
  const base = { publicKey: record.publicKey, id: record.id, record }
  const v4 = record.ip !== undefined
  const host = v4 ? record.ip : record.ip6
  if (host === undefined) return base
  const tcpPort = v4 ? record.tcp : record.tcp6 ?? record.tcp
  const udpPort = (v4 ? record.udp : record.udp6 ?? record.udp) ?? tcpPort
  return { ...base, host, ...(tcpPort !== undefined && { tcpPort }), ...(udpPort !== undefined && { udpPort }) }
}

function enodeOfRecord(text: string, fail: Fail): Enode {
  try {
    return enodeFromRecord(Enr.parse(text))
  } catch (err) {
    if (err instanceof InvalidEnrError) fail(`invalid node record: ${err.message}`)
    throw err
  }
}

/**
 * Formats an enode URL as go-ethereum's `Node.String()` does: the incomplete form without a
 * host, IPv6 in brackets, `?discport=` only when the UDP port differs from the TCP port.
 * @throws {InvalidOptionError} when the key is not 64 bytes, the host is not an IP literal or
 *   DNS name, or a port is missing or out of range
 */
export function formatEnode(e: EnodeFields): string {
  const key = e.publicKey
  if (!(key instanceof Uint8Array) || key.length !== 64) {
    throw new InvalidOptionError('publicKey', `must be 64 bytes, got ${describeLength(key)}`)
  }
  const keyHex = Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex')
  if (e.host === undefined) return PREFIX + keyHex

  const host = canonicalHost(e.host)
  if ('reason' in host) throw new InvalidOptionError('host', host.reason)
  // A record may name only a UDP port; geth then writes TCP port 0 with ?discport=
  if (e.tcpPort === undefined && e.udpPort === undefined) throw new InvalidOptionError('tcpPort', 'is required when host is set')
  const tcp = checkPort('tcpPort', e.tcpPort ?? 0)
  const udp = e.udpPort === undefined ? tcp : checkPort('udpPort', e.udpPort)
  const hostPart = host.host.includes(':') ? `[${host.host}]` : host.host
  return `${PREFIX}${keyHex}@${hostPart}:${tcp}${udp === tcp ? '' : `?discport=${udp}`}`
}

type Fail = (reason: string) => never

/** Splits what follows `enode://` the way a URL does: authority, `?query`, then the rest. */
function splitUrl(body: string): { authority: string; query: string | undefined; trailer: string } {
  const end = body.search(/[/?#]/)
  if (end < 0) return { authority: body, query: undefined, trailer: '' }
  const authority = body.slice(0, end)
  if (body[end] !== '?') return { authority, query: undefined, trailer: body.slice(end) }
  const hash = body.indexOf('#', end)
  const query = body.slice(end + 1, hash < 0 ? undefined : hash)
  return { authority, query, trailer: hash < 0 ? '' : body.slice(hash) }
}

/** Decodes the hex key and checks, in geth's order, its hex, its length and the curve. */
function parsePublicKey(text: string, fail: Fail): Buffer {
  if (text === '') fail(`missing public key (${USAGE})`)
  if (!HEX.test(text)) fail('invalid public key (not hexadecimal)')
  if (text.length !== 128) {
    fail(`invalid public key (wrong length, want 128 hex chars): got ${text.length}`)
  }
  const key = Buffer.from(text, 'hex')
  if (!isValidPublicKey(key)) fail('invalid public key (not a point on secp256k1)')
  return key
}

/** Splits `host:port` or `[ipv6]:port` and validates both halves. */
function parseHostPort(text: string, fail: Fail): { host: string; tcpPort: number } {
  let hostText: string
  let portText: string | undefined
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0) fail("unterminated '[' in IPv6 host")
    hostText = text.slice(1, close)
    if (!isIPv6(hostText)) fail(`invalid IPv6 address ${JSON.stringify(hostText)} in brackets`)
    const rest = text.slice(close + 1)
    if (rest !== '' && !rest.startsWith(':')) fail(`unexpected ${JSON.stringify(rest)} after ']'`)
    portText = rest === '' ? undefined : rest.slice(1)
  } else {
    const colon = text.lastIndexOf(':')
    hostText = colon < 0 ? text : text.slice(0, colon)
    portText = colon < 0 ? undefined : text.slice(colon + 1)
    // Go's URL parser would split "::1:30303" at the last colon; that reading is a guess
    if (hostText.includes(':')) fail('IPv6 host must be in brackets, e.g. [::1]:30303')
  }
  if (hostText === '') fail(`missing host before the port (${USAGE})`)
  if (portText === undefined) fail(`invalid port: missing ':port' after the host (${USAGE})`)
  const host = canonicalHost(hostText)
  if ('reason' in host) fail(host.reason)
  const tcpPort = parsePort(portText)
  if (tcpPort === undefined) fail(`invalid port ${JSON.stringify(portText)} (want an integer 0..65535)`)
  return { host: host.host, tcpPort }
}

/** The `discport` query value, or undefined when absent or empty (geth ignores an empty one). */
function parseDiscport(query: string | undefined, fail: Fail): number | undefined {
  if (query === undefined) return undefined
  const text = new URLSearchParams(query).get('discport')
  if (text === null || text === '') return undefined
  const port = parsePort(text)
  if (port === undefined) {
    fail(`invalid discport in query: ${JSON.stringify(text)} (want an integer 0..65535)`)
  }
  return port
}

/** A decimal port 0..65535 (leading zeros allowed, as Go's ParseUint allows them). */
function parsePort(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined
  const port = Number(text)
  return port <= 0xffff ? port : undefined
}

/** Validates a port given to formatEnode. */
function checkPort(option: string, port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new InvalidOptionError(option, `must be an integer 0..65535, got ${port}`)
  }
  return port
}

/**
 * The form geth stores and prints: IPs as Go's net.IP.String() writes them (compressed
 * lowercase IPv6, IPv4-mapped IPv6 as IPv4, since geth keeps those in the record's `ip` key),
 * DNS names as given.
 */
function canonicalHost(host: string): { host: string } | { reason: string } {
  if (isIPv4(host)) return { host }
  if (isIPv6(host)) return canonicalIPv6(host)
  // All-numeric dotted text is a mistyped IPv4 address, not a DNS name
  if (/^[\d.]+$/.test(host)) return { reason: `invalid IPv4 address ${JSON.stringify(host)}` }
  if (isDnsName(host)) return { host }
  return { reason: `invalid host ${JSON.stringify(host)} (not an IP address or DNS name)` }
}

/** Compresses an IPv6 address with the WHATWG serializer, whose rules match Go's. */
function canonicalIPv6(address: string): { host: string } | { reason: string } {
  if (address.includes('%')) return { reason: `IPv6 zone in ${JSON.stringify(address)} is not supported` }
  const text = new URL(`http://[${address}]/`).hostname.slice(1, -1)
  const mapped = MAPPED_IPV4.exec(text)
  if (!mapped) return { host: text }
  return { host: `${dottedPair(mapped[1]!)}.${dottedPair(mapped[2]!)}` }
}

/** One 16-bit IPv6 group as the two dotted-decimal IPv4 bytes it carries. */
function dottedPair(group: string): string {
  const n = parseInt(group, 16)
  return `${n >> 8}.${n & 0xff}`
}

/** RFC 1123 names (underscores allowed, as in real-world records), optional trailing dot. */
function isDnsName(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => DNS_LABEL.test(label))
}

/** For error messages: a wrong-length key shows its length, a wrong-type one its type. */
function describeLength(value: unknown): string {
  return value instanceof Uint8Array ? `${value.length} bytes` : typeof value
}
