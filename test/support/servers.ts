// Servers on loopback and hand-driven "raw" RLPx peers for the Server tests. Every server
// and socket made here is remembered and torn down by `cleanup()`, which each suite calls
// from an after.each hook, so a failing test cannot keep the process alive or leak peers
// into the next test.
import { connect, type Socket } from 'node:net'
import * as assert from 'uvu/assert'
import type { ServerOptions } from '../../lib/config.js'
import { generatePrivateKey, publicKeyOf } from '../../lib/crypto/index.js'
import { decodeDisconnectReason } from '../../lib/disconnect.js'
import { parseEnode } from '../../lib/enode.js'
import { decodeHello, encodeHello, P2P_VERSION, type Hello } from '../../lib/hello.js'
import type { Peer } from '../../lib/peer.js'
import type { Cap, Protocol } from '../../lib/protocol.js'
import { RLPxConnection } from '../../lib/rlpx/connection.js'
import { Server, type PeerRemoved } from '../../lib/server.js'
import { within } from './net.js'

/** Generous deadline for anything that takes a few loopback round trips. */
export const QUICK = 5000

const EMPTY_LIST = Uint8Array.of(0xc0)

/** The error `promise` rejects with; fails the test if it resolves or hangs. */
export async function rejection(promise: Promise<unknown>, what: string, ms = QUICK): Promise<Error> {
  const outcome = await within(promise, ms, what).then(
    () => undefined,
    (err: Error) => err,
  )
  if (!outcome) assert.unreachable(`${what} should have rejected`)
  return outcome!
}

/** Resolves after `ms`; only used to let something happen, never to time it. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------
// Servers

const servers: Server[] = []
const sockets: Socket[] = []

/**
 * A server on 127.0.0.1 with an OS-chosen port, a fresh key and test-sized timings; `options`
 * override any of it. Not started.
 */
export function newServer(options: Partial<ServerOptions> = {}): Server {
  const server = new Server({
    privateKey: generatePrivateKey(),
    listenAddr: '127.0.0.1:0',
    discovery: false,
    handshakeTimeout: 3000,
    redialBackoff: [20, 60],
    ...options,
  })
  servers.push(server)
  return server
}

/** {@link newServer}, started. */
export async function startServer(options: Partial<ServerOptions> = {}): Promise<Server> {
  const server = newServer(options)
  await within(server.start(), QUICK, 'server.start()')
  return server
}

/** Destroys every raw socket and stops every server made since the last call. */
export async function cleanup(): Promise<void> {
  for (const socket of sockets.splice(0)) socket.destroy()
  await within(Promise.all(servers.splice(0).map((s) => s.stop())), QUICK, 'every server to stop')
}

/** The TCP port `server` listens on, read back from its enode URL. */
export function portOf(server: Server): number {
  const port = parseEnode(server.enode).tcpPort
  if (port === undefined) throw new Error('server is not listening')
  return port
}

/** The port in an `ip:port` or `[ip6]:port` address. */
export function portIn(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1))
}

// ---------------------------------------------------------------------------------------
// Events

/** Resolves with the next peer added on `server` (with node id `id`, when given). */
export function nextAdded(server: Server, id?: string): Promise<Peer> {
  return new Promise((resolve) => {
    const off = server.events.on('peer:added', (peer) => {
      if (id !== undefined && peer.id !== id) return
      off()
      resolve(peer)
    })
  })
}

/** Resolves with the next `peer:removed` on `server` (for node id `id`, when given). */
export function nextRemoved(server: Server, id?: string): Promise<PeerRemoved> {
  return new Promise((resolve) => {
    const off = server.events.on('peer:removed', (event) => {
      if (id !== undefined && event.peer.id !== id) return
      off()
      resolve(event)
    })
  })
}

/** Every `peer:added` and `peer:removed` on `server` from now on, in order. */
export function recordEvents(server: Server): { added: Peer[]; removed: PeerRemoved[] } {
  const log = { added: [] as Peer[], removed: [] as PeerRemoved[] }
  server.events.on('peer:added', (peer) => log.added.push(peer))
  server.events.on('peer:removed', (event) => log.removed.push(event))
  return log
}

// ---------------------------------------------------------------------------------------
// Protocols

/** A protocol that reads and drops messages until its peer goes. */
export function idleProtocol(name = 'idle', version = 1, length = 1): Protocol {
  return {
    name,
    version,
    length,
    async run(_peer, rw) {
      for await (const msg of rw) void msg
    },
  }
}

// ---------------------------------------------------------------------------------------
// Raw peers: a real RLPx session driven by hand, to behave in ways a Server never would.

/** What a raw peer sends in place of a normal Hello. */
export interface RawOptions {
  /** The key the RLPx handshake proves. @default a fresh key */
  privateKey?: Buffer
  /** Fields of our Hello; `nodeId` defaults to the handshake key. `false`: send no Hello. */
  hello?: Partial<Hello> | false
  /** Answer Ping with Pong. @default true */
  answerPings?: boolean
}

/** A hand-driven RLPx session with a server. */
export interface RawPeer {
  conn: RLPxConnection
  socket: Socket
  /** Every message received after the handshake, in order, payloads uncompressed. */
  received: { code: number; payload: Buffer }[]
  /** The server's Hello. */
  hello: Promise<Hello>
  /** The reason code of the first Disconnect received (undefined if it did not decode). */
  disconnect: Promise<number | undefined>
  /** Resolves once the socket has closed. */
  closed: Promise<void>
}

/** A TCP connection to `server` that never sends a byte. */
export async function rawSocket(server: Server): Promise<Socket> {
  const socket = connect(portOf(server), '127.0.0.1')
  sockets.push(socket)
  socket.on('error', () => {}) // resets during teardown are expected
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    }),
    QUICK,
    'TCP connect',
  )
  return socket
}

/**
 * Dials `server`, completes the encryption handshake and sends a Hello built from `options`
 * (caps `[]` unless given). Snappy is switched on when the server's Hello arrives, as p2p v5
 * requires, so Disconnects sent after Hello decode too.
 */
export async function rawDial(server: Server, options: RawOptions = {}): Promise<RawPeer> {
  const privateKey = options.privateKey ?? generatePrivateKey()
  const socket = await rawSocket(server)
  const conn = new RLPxConnection({ socket, privateKey, remotePublicKey: server.publicKey })
  await within(conn.handshake(), QUICK, 'raw RLPx handshake')
  const received: RawPeer['received'] = []
  let gotHello!: (hello: Hello) => void
  let gotDisconnect!: (reason: number | undefined) => void
  let gotClose!: () => void
  const hello = new Promise<Hello>((resolve) => (gotHello = resolve))
  const disconnect = new Promise<number | undefined>((resolve) => (gotDisconnect = resolve))
  const closed = new Promise<void>((resolve) => (gotClose = resolve))
  const ours: Hello | undefined =
    options.hello === false ? undefined : { version: P2P_VERSION, clientId: 'raw', caps: [] as Cap[], listenPort: 0, nodeId: publicKeyOf(privateKey), ...options.hello }
  if (ours) conn.send(0, encodeHello(ours))
  conn.start({
    onMessage(code, payload) {
      received.push({ code, payload })
      if (code === 0) {
        const theirs = decodeHello(payload)
        if (ours && ours.version >= 5 && theirs.version >= 5) conn.enableSnappy()
        gotHello(theirs)
      } else if (code === 1) {
        gotDisconnect(decodeDisconnectReason(payload))
      } else if (code === 2 && options.answerPings !== false) {
        conn.send(3, EMPTY_LIST)
      }
    },
    onClose: () => gotClose(),
  })
  return { conn, socket, received, hello, disconnect, closed }
}
