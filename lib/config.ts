/**
 * Server options, their defaults, and the validation that turns a bad option into an
 * {@link InvalidOptionError} naming it, at construction time.
 * @module
 */
import { isIP } from 'node:net'
import { systemClock, type Clock } from './clock.js'
import { isValidPrivateKey } from './crypto/index.js'
import { parseEnode, type Enode } from './enode.js'
import { InvalidOptionError } from './errors.js'
import { encodeHello, MAX_HELLO_SIZE, P2P_VERSION } from './hello.js'
import { DEFAULT_READ_QUEUE } from './msg-queue.js'
import { Netlist } from './netutil.js'
import { protocolProblem, type Protocol } from './protocol.js'
import type { Random } from './random.js'
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_WRITE_TIMEOUT } from './rlpx/connection.js'
import { MAX_FRAME_SIZE } from './rlpx/frames.js'
import { tcpTransport } from './tcp-transport.js'
import type { TransportFactory } from './transport.js'

/** Every tunable default of the server, in one place; each is an option of {@link ServerOptions}. */
export const SERVER_DEFAULTS = {
  name: 'devp2p-ts',
  listenAddr: ':30303',
  maxPeers: 25,
  maxPendingPeers: 50,
  acceptBacklog: 256,
  dialRatio: 3,
  handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT,
  pingInterval: 15_000,
  readTimeout: 30_000,
  writeTimeout: DEFAULT_WRITE_TIMEOUT,
  dialTimeout: 15_000,
  redialBackoff: [1000, 30_000] as [number, number],
  readQueueSize: DEFAULT_READ_QUEUE,
  maxMessageSize: MAX_FRAME_SIZE,
  maxWriteBuffer: 32 * 1024 * 1024,
} as const

/**
 * How long an address that connected to us is refused before the handshake, unless it is
 * loopback or LAN: go-ethereum's inboundThrottleTime.
 */
export const INBOUND_THROTTLE = 30_000
/** Addresses the inbound throttle remembers; the oldest are forgotten beyond this. */
export const INBOUND_THROTTLE_ENTRIES = 16_384

/** Options of a {@link Server}. Only `privateKey` is required. */
export interface ServerOptions {
  /** The node's 32-byte secp256k1 key; its public key is the node's identity. See `generatePrivateKey()` and `loadOrCreateNodeKey()`. */
  privateKey: Uint8Array
  /** Client name sent in Hello. @default 'devp2p-ts' */
  name?: string
  /**
   * Address to listen on: `:30303` (all interfaces), `127.0.0.1:0`, `[::1]:0`. Port 0 lets
   * the OS choose; `Server.enode` shows the result. `null` means do not listen (dial only).
   * @default ':30303'
   */
  listenAddr?: string | null
  /** Most peers at once, inbound and outbound together; trusted nodes do not count against it. @default 25 */
  maxPeers?: number
  /** Most connections in the handshake phase at once, per direction; further dials wait their turn, further inbound connections wait in the accept backlog. @default 50 */
  maxPendingPeers?: number
  /**
   * Inbound connections that wait, unread, for a handshake slot — each at most
   * `handshakeTimeout` — so a burst of dials is served instead of refused. Beyond it,
   * connections are closed at once. @default 256
   */
  acceptBacklog?: number
  /**
   * Share of `maxPeers` kept for connections we dial: inbound peers are refused once
   * `maxPeers − floor(maxPeers / dialRatio)` of them are connected. With 25 peers and a
   * ratio of 3, at most 17 peers may be inbound, so 8 slots stay for dials.
   * @default 3
   */
  dialRatio?: number
  /** Sub-protocols to run with every peer that shares them. @default [] */
  protocols?: Protocol[]
  /**
   * Nodes dialled once at start, and discovery's starting points: `enode://` URLs, `enr:`
   * records, or `host:port` of a node running discovery (its key is learnt from its signed
   * Pong; needs discovery). @default []
   */
  bootnodes?: string[]
  /** enode URLs kept connected: redialled with jittered backoff whenever they drop. @default [] */
  staticNodes?: string[]
  /** enode URLs or node ids admitted even when the server is at `maxPeers`. @default [] */
  trustedNodes?: string[]
  /** Deadline of the encryption handshake and of the Hello exchange, each, in ms. @default 5000 */
  handshakeTimeout?: number
  /** Time between Pings to each peer, in ms. @default 15000 */
  pingInterval?: number
  /** A peer that sends nothing (not even Pong) for this long is dropped with "read timeout", in ms. @default 30000 */
  readTimeout?: number
  /** TCP connect timeout for dials, in ms. @default 15000 */
  dialTimeout?: number
  /** First and largest delay before redialling a static node, in ms; doubled per failure, jittered. @default [1000, 30000] */
  redialBackoff?: [number, number]
  /** Messages a protocol may leave unread on one peer before that peer's socket is paused (or 16 MiB of them, whichever comes first). @default 64 */
  readQueueSize?: number
  /**
   * Largest message payload accepted or sent, in bytes, before compression on both sides:
   * a message the sender accepts is accepted by a receiver with the same limit.
   * @default 16777215
   */
  maxMessageSize?: number
  /**
   * Bytes one peer's writes may queue — frames the socket has not taken plus messages
   * waiting in `writeMsg` — before the peer is disconnected (network error). At least
   * `maxMessageSize` + 1 MiB. @default 33554432 (32 MiB)
   */
  maxWriteBuffer?: number
  /** A peer whose socket takes none of the bytes waiting for it for this long is disconnected, in ms (go-ethereum: 20 s). @default 20000 */
  writeTimeout?: number
  /** CIDR networks (`10.0.0.0/8`, `fd00::/8`) to which dials and accepts are confined. @default no restriction */
  netrestrict?: string[]
  /** Where time is read and timers are set; a `VirtualClock` in tests and simulations. @default systemClock */
  clock?: Clock
  /** Randomness for jitter (not for keys). @default Math.random */
  random?: Random
  /** How connections are made; the simulator passes an in-memory one. @default TCP with RLPx */
  transport?: TransportFactory
  /**
   * Run discv4 on UDP (on the TCP port) and fill the outbound slots from the nodes it finds.
   * Needs a listener. @default true
   */
  discovery?: boolean
  /** Directory of the discovery node database (created if missing); without it, nothing known survives a restart. @default none */
  dataDir?: string
  /** The IP to put in our enode and record, whatever we listen on or peers report (a NAT's public address). @default chosen from the listener and the default route */
  advertiseAddr?: string
}

/** {@link ServerOptions} with every default applied and every enode parsed. */
export interface ResolvedOptions {
  privateKey: Buffer
  name: string
  listen: { host: string | undefined; port: number } | null
  maxPeers: number
  maxPendingPeers: number
  acceptBacklog: number
  dialRatio: number
  protocols: Protocol[]
  bootnodes: Enode[]
  staticNodes: Enode[]
  trustedIds: Set<string>
  handshakeTimeout: number
  pingInterval: number
  readTimeout: number
  dialTimeout: number
  redialBackoff: [number, number]
  readQueueSize: number
  maxMessageSize: number
  maxWriteBuffer: number
  writeTimeout: number
  netrestrict: Netlist | undefined
  clock: Clock
  random: Random
  transport: TransportFactory
  discovery: boolean
  dataDir: string | undefined
  advertiseAddr: string | undefined
  /** Bootnodes given as `host:port`, resolved through discovery at start. */
  bootAddresses: { host: string; port: number }[]
}

function integer(options: ServerOptions, key: keyof ServerOptions, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = options[key] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(key, `must be an integer from ${min} to ${max}, got ${String(value)}`)
  }
  return value
}

/** `host:port` (a name, an IPv4 or a bracketed IPv6, and a port), or undefined when `text` is not that. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text)
  const port = m ? Number(m[3]) : 0
  if (!m || port < 1 || port > 65535) return undefined
  return { host: (m[1] ?? m[2])!, port }
}

function enodes(options: ServerOptions, key: 'bootnodes' | 'staticNodes'): Enode[] {
  const list = options[key] ?? []
  if (!Array.isArray(list)) throw new InvalidOptionError(key, 'must be an array of enode URLs')
  return list.flatMap((url, i) => {
    // host:port bootnodes are resolved through discovery at start.
    if (key === 'bootnodes' && typeof url === 'string' && parseHostPort(url)) return []
    const node = parseOrThrow(url, key, i)
    if (node.host === undefined || node.tcpPort === undefined) {
      throw new InvalidOptionError(key, `entry ${i} has no address; give enode://<key>@<host>:<port>`)
    }
    return [node]
  })
}

function parseOrThrow(url: unknown, key: string, i: number): Enode {
  if (typeof url !== 'string') throw new InvalidOptionError(key, `entry ${i} must be a string`)
  try {
    return parseEnode(url)
  } catch (err) {
    throw new InvalidOptionError(key, `entry ${i}: ${(err as Error).message}`)
  }
}

/** Parses `:30303`, `127.0.0.1:0`, `[::1]:0`, `localhost:4000`. */
export function parseListenAddr(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr)
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535) {
    throw new InvalidOptionError('listenAddr', `${JSON.stringify(addr)} is not host:port (examples: ":30303", "127.0.0.1:0", "[::1]:0")`)
  }
  const host = m[1] ?? m[2]
  return { host: host === '' ? undefined : host, port }
}

/** Applies defaults and validates; throws {@link InvalidOptionError} naming the bad option. */
export function resolveOptions(options: ServerOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'must be an object')
  if (!(options.privateKey instanceof Uint8Array) || !isValidPrivateKey(options.privateKey)) {
    throw new InvalidOptionError('privateKey', 'must be a valid 32-byte secp256k1 private key (see generatePrivateKey())')
  }
  const name = options.name ?? SERVER_DEFAULTS.name
  if (typeof name !== 'string') throw new InvalidOptionError('name', 'must be a string')
  const protocols = options.protocols ?? []
  if (!Array.isArray(protocols)) throw new InvalidOptionError('protocols', 'must be an array')
  const seen = new Set<string>()
  for (const p of protocols) {
    const problem = protocolProblem(p)
    if (problem) throw new InvalidOptionError('protocols', problem)
    const key = `${p.name}/${p.version}`
    if (seen.has(key)) throw new InvalidOptionError('protocols', `${key} is registered twice`)
    seen.add(key)
  }
  const helloSize = encodeHello({ version: P2P_VERSION, clientId: name, caps: protocols.map((p) => ({ name: p.name, version: p.version })), listenPort: 0, nodeId: Buffer.alloc(64) }).length
  if (helloSize > MAX_HELLO_SIZE) {
    throw new InvalidOptionError('name', `with the protocols' capabilities it makes a Hello of ${helloSize} bytes, above the ${MAX_HELLO_SIZE}-byte limit peers enforce; use a shorter name`)
  }
  const listenAddr = options.listenAddr === undefined ? SERVER_DEFAULTS.listenAddr : options.listenAddr
  if (listenAddr !== null && typeof listenAddr !== 'string') throw new InvalidOptionError('listenAddr', 'must be a string or null')
  const trusted = options.trustedNodes ?? []
  if (!Array.isArray(trusted)) throw new InvalidOptionError('trustedNodes', 'must be an array')
  const trustedIds = new Set(
    trusted.map((entry, i) => (typeof entry === 'string' && /^[0-9a-f]{64}$/i.test(entry) ? entry.toLowerCase() : parseOrThrow(entry, 'trustedNodes', i).id)),
  )
  const backoff = options.redialBackoff ?? SERVER_DEFAULTS.redialBackoff
  if (!Array.isArray(backoff) || backoff.length !== 2 || !backoff.every((n) => Number.isFinite(n) && n > 0) || backoff[0] > backoff[1]) {
    throw new InvalidOptionError('redialBackoff', 'must be [min, max] in ms with 0 < min <= max')
  }
  const netrestrict = options.netrestrict
  if (netrestrict !== undefined && !Array.isArray(netrestrict)) throw new InvalidOptionError('netrestrict', 'must be an array of CIDR strings')
  const clock = options.clock ?? systemClock
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new InvalidOptionError('clock', 'must have now(), setTimeout() and clearTimeout()')
  }
  const random = options.random ?? Math.random
  if (typeof random !== 'function') throw new InvalidOptionError('random', 'must be a function returning numbers in [0, 1)')
  const transport = options.transport ?? tcpTransport
  if (typeof transport !== 'function') throw new InvalidOptionError('transport', 'must be a function (context) => Transport')
  const discovery = options.discovery ?? true
  if (typeof discovery !== 'boolean') throw new InvalidOptionError('discovery', 'must be true or false')
  if (options.dataDir !== undefined && typeof options.dataDir !== 'string') throw new InvalidOptionError('dataDir', 'must be a directory path')
  const advertiseAddr = options.advertiseAddr
  if (advertiseAddr !== undefined && isIP(advertiseAddr) === 0) throw new InvalidOptionError('advertiseAddr', `${JSON.stringify(advertiseAddr)} is not an IP address`)
  const bootAddresses = (Array.isArray(options.bootnodes) ? options.bootnodes : []).flatMap((b) => (typeof b === 'string' ? (parseHostPort(b) ?? []) : []))
  if (bootAddresses.length > 0 && !discovery) throw new InvalidOptionError('bootnodes', 'a host:port bootnode needs discovery to learn its key; give its enode URL, or turn discovery on')
  const d = SERVER_DEFAULTS
  const maxMessageSize = integer(options, 'maxMessageSize', d.maxMessageSize, 1024, MAX_FRAME_SIZE)
  return {
    privateKey: Buffer.from(options.privateKey),
    name,
    listen: listenAddr === null ? null : parseListenAddr(listenAddr),
    maxPeers: integer(options, 'maxPeers', d.maxPeers, 0),
    maxPendingPeers: integer(options, 'maxPendingPeers', d.maxPendingPeers, 1),
    acceptBacklog: integer(options, 'acceptBacklog', d.acceptBacklog, 0),
    dialRatio: integer(options, 'dialRatio', d.dialRatio, 1),
    protocols,
    bootnodes: enodes(options, 'bootnodes'),
    staticNodes: enodes(options, 'staticNodes'),
    trustedIds,
    handshakeTimeout: integer(options, 'handshakeTimeout', d.handshakeTimeout, 1),
    pingInterval: integer(options, 'pingInterval', d.pingInterval, 1),
    readTimeout: integer(options, 'readTimeout', d.readTimeout, 1),
    writeTimeout: integer(options, 'writeTimeout', d.writeTimeout, 1),
    dialTimeout: integer(options, 'dialTimeout', d.dialTimeout, 1),
    redialBackoff: [backoff[0], backoff[1]],
    readQueueSize: integer(options, 'readQueueSize', d.readQueueSize, 1),
    maxMessageSize,
    maxWriteBuffer: integer(options, 'maxWriteBuffer', Math.max(d.maxWriteBuffer, maxMessageSize + (1 << 20)), maxMessageSize + (1 << 20)),
    netrestrict: netrestrict === undefined ? undefined : new Netlist(netrestrict),
    clock,
    random,
    transport,
    discovery,
    dataDir: options.dataDir,
    advertiseAddr,
    bootAddresses,
  }
}
