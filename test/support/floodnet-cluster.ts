// floodnet nodes on loopback for the floodnet suites: one node (a Server with a Floodnet
// registered), a cluster joined through one entry node as examples/floodnet-sim.ts does,
// the graph figures the overlay tests assert on, and a hand-driven "raw" floodnet peer
// that writes whatever wire messages a test wants. Every node and raw peer made here is
// remembered and stopped by `stopAll()`, which each suite calls from an after.each hook.
import { RLP } from '@ethereumjs/rlp'
import type { ServerOptions } from '../../lib/config.js'
import { generatePrivateKey } from '../../lib/crypto/index.js'
import { DisconnectError } from '../../lib/disconnect.js'
import type { Msg, MsgReadWriter } from '../../lib/message.js'
import type { Peer } from '../../lib/peer.js'
import type { Protocol } from '../../lib/protocol.js'
import { Server } from '../../lib/server.js'
import { parseEnode } from '../../lib/enode.js'
import { Floodnet, FloodnetMsg, type FloodnetOptions } from '../../protocols/floodnet/index.js'
import { decodeAck, encodeJoin, newToken } from '../../protocols/floodnet/join.js'
import { waitFor, within } from './net.js'

/** Generous deadline for anything that takes a few loopback round trips. */
export const QUICK = 5000

/** Resolves after `ms`; only used to pace or let something happen, never to time it. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A Server with a Floodnet on it. */
export interface FloodNode {
  server: Server
  net: Floodnet
}

/** What {@link startNode} is told. */
export interface NodeOptions {
  floodnet?: FloodnetOptions
  server?: Partial<ServerOptions>
  /** Registers this in place of `net.protocol` (e.g. a wrapper that counts messages). */
  wrap?: (protocol: Protocol, net: Floodnet) => Protocol
}

const nodes: FloodNode[] = []
const raws: Server[] = []

/** A started Server on 127.0.0.1:0 with a started Floodnet attached. */
export async function startNode(options: NodeOptions = {}): Promise<FloodNode> {
  const net = new Floodnet(options.floodnet)
  const protocol = options.wrap ? options.wrap(net.protocol, net) : net.protocol
  const server = new Server({
    privateKey: generatePrivateKey(),
    listenAddr: '127.0.0.1:0',
    discovery: false,
    handshakeTimeout: 3000,
    maxPendingPeers: 200,
    ...options.server,
    protocols: [protocol],
  })
  net.attach(server)
  const node = { server, net }
  nodes.push(node)
  await within(server.start(), QUICK, 'server.start()')
  net.start()
  return node
}

/**
 * `n` nodes, the first of them the entry node every other one joins through (bootnodes =
 * [entry]), started one after the other as in examples/floodnet-sim.ts. The entry node gets
 * room for every node at once, since all of them dial it first.
 */
export async function startCluster(n: number, floodnet: FloodnetOptions = {}): Promise<FloodNode[]> {
  const desired = floodnet.desired ?? 5
  const entry = await startNode({ floodnet, server: { maxPeers: Math.max(50, n + 10) } })
  const cluster = [entry]
  for (let i = 1; i < n; i++) cluster.push(await startNode({ floodnet: { ...floodnet, bootnodes: [entry.server.enode] }, server: { maxPeers: 4 * desired } }))
  return cluster
}

/** Stops floodnet (its join timer) and then the server, within a deadline. */
export async function stopNode(node: FloodNode): Promise<void> {
  node.net.stop()
  await within(node.server.stop(), QUICK, 'server.stop()')
}

/** Stops every node and raw peer made since the last call. */
export async function stopAll(): Promise<void> {
  const all = nodes.splice(0)
  for (const node of all) node.net.stop()
  await within(Promise.all([...all.map((n) => n.server.stop()), ...raws.splice(0).map((s) => s.stop())]), 3 * QUICK, 'every floodnet server to stop')
}

// ---------------------------------------------------------------------------------------
// The graph

/** Floodnet links, as unordered index pairs `"i-j"` (i < j), among `cluster`. */
export function edges(cluster: FloodNode[]): Set<string> {
  const index = new Map(cluster.map((n, i) => [n.server.id, i]))
  const out = new Set<string>()
  for (const [i, n] of cluster.entries()) {
    for (const id of n.net.neighbours) {
      const j = index.get(id)
      if (j !== undefined) out.add(i < j ? `${i}-${j}` : `${j}-${i}`)
    }
  }
  return out
}

/** Connected components of the floodnet graph of `cluster`. */
export function components(cluster: FloodNode[]): number {
  const parent = cluster.map((_, i) => i)
  const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x]!)))
  for (const e of edges(cluster)) {
    const [a, b] = e.split('-').map(Number) as [number, number]
    parent[find(a)] = find(b)
  }
  return new Set(parent.map((_, i) => find(i))).size
}

/**
 * True when every node has at least `want` floodnet neighbours, each node's floodnet
 * neighbours are exactly its server's peers, and every link is seen from both ends.
 */
export function meshed(cluster: FloodNode[], want: number): boolean {
  const ids = new Set(cluster.map((n) => n.server.id))
  const byId = new Map(cluster.map((n) => [n.server.id, n]))
  for (const n of cluster) {
    // A bootstrap link counts as a neighbour until its node has others, then it goes.
    if (n.net.degree < want || n.net.bootstrapLinks > 0) return false
    const peers = new Set(n.server.peers.map((p) => p.id))
    const neighbours = n.net.neighbours
    if (peers.size !== neighbours.length || !neighbours.every((id) => peers.has(id))) return false
    for (const id of neighbours) {
      if (!ids.has(id)) return false
      if (!byId.get(id)!.net.neighbours.includes(n.server.id)) return false
    }
  }
  return true
}

/**
 * Resolves once `cluster` is {@link meshed} and no neighbour was added or removed anywhere
 * for `quietMs`: joins have stopped, so what is asserted next is the settled topology and
 * not a snapshot of it mid-join.
 */
export async function settle(cluster: FloodNode[], want: number, quietMs: number, deadline: number): Promise<void> {
  let lastChange = Date.now()
  const offs = cluster.flatMap((n) => [n.net.events.on('neighbour:added', () => (lastChange = Date.now())), n.net.events.on('neighbour:removed', () => (lastChange = Date.now()))])
  try {
    await waitFor(() => meshed(cluster, want) && Date.now() - lastChange >= quietMs, deadline, `${cluster.length} nodes to settle with ≥ ${want} neighbours each`).catch((err: Error) => {
      throw new Error(`${err.message}; degree/bootstrap/contacts/peers per node: ${cluster.map((n, i) => `${i}:${n.net.degree}/${n.net.bootstrapLinks}/${n.net.contacts.length}/${n.server.peerCount}`).join(' ')}`)
    })
  } finally {
    for (const off of offs) off()
  }
}

/** Node ids and degrees, for assertion messages. */
export function describe(cluster: FloodNode[]): string {
  return cluster.map((n, i) => `${i}:${n.net.degree}`).join(' ')
}

// ---------------------------------------------------------------------------------------
// Accounting

/**
 * True when every flood transmission sent by `cluster` has been handled by its receiver:
 * the sum of copies sent equals the sum of copies delivered, seen before or dropped. Once
 * true after a burst of writes, nothing of it is still on the wire.
 */
export function quiescent(cluster: FloodNode[]): boolean {
  let sent = 0
  let handled = 0
  for (const { net } of cluster) {
    const s = net.engine.stats
    sent += s.sent
    // A last-hop drop is a relay not made, not a copy received: it handles nothing.
    handled += s.delivered + s.duplicates + Object.entries(s.dropped).reduce((a, [reason, n]) => (reason === 'last-hop' ? a : a + n), 0)
  }
  return sent === handled
}

// ---------------------------------------------------------------------------------------
// A raw floodnet peer

/** `[id, origin, hopsLeft, payload]`, the flood message as FloodEngine writes it. */
export function encodeFlood(id: Uint8Array, origin: Uint8Array, hopsLeft: number, payload: Uint8Array): Uint8Array {
  return RLP.encode([id, origin, hopsLeft, payload])
}

/** A server speaking floodnet by hand: it records what it receives and writes what it is told. */
export interface RawFloodnet {
  server: Server
  /** The open floodnet links, by peer id. */
  links: Map<string, MsgReadWriter>
  /** Every floodnet message received, with the id of the peer it came from. */
  received: { from: string; msg: Msg }[]
  /**
   * Dials `target` and resolves with the link once floodnet runs on it. To a floodnet node
   * the link is a contact unless `role` is `overlay` (the default): then the raw peer asks
   * for it with a one-hop JOIN_REQ of its own, and resolves once the node's JOIN_ACK says
   * it took the link into its overlay (a node below `desired` always does).
   */
  link(target: FloodNode | RawFloodnet, role?: 'overlay' | 'contact'): Promise<MsgReadWriter>
}

/** A started server whose only protocol is a hand-driven floodnet/3 (codes JoinReq, Message, JoinAck, JoinOffer, Spares). */
export async function startRawFloodnet(): Promise<RawFloodnet> {
  const links = new Map<string, MsgReadWriter>()
  const received: RawFloodnet['received'] = []
  const protocol: Protocol = {
    name: 'floodnet',
    version: 3,
    length: 5,
    async run(peer: Peer, rw: MsgReadWriter) {
      links.set(peer.id, rw)
      try {
        for await (const msg of rw) received.push({ from: peer.id, msg })
      } catch (err) {
        if (!(err instanceof DisconnectError)) throw err
      } finally {
        links.delete(peer.id)
      }
    },
  }
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, handshakeTimeout: 3000, protocols: [protocol] })
  raws.push(server)
  await within(server.start(), QUICK, 'raw floodnet server.start()')
  const raw: RawFloodnet = {
    server,
    links,
    received,
    async link(target, role = 'overlay') {
      const peer = await within(server.connect(target.server.enode), QUICK, 'raw floodnet dial')
      await waitFor(() => links.has(peer.id), QUICK, 'floodnet to run on the raw link')
      const rw = links.get(peer.id)!
      if (role === 'overlay' && 'net' in target) {
        const token = newToken()
        await rw.writeMsg(FloodnetMsg.JoinReq, encodeJoin({ token, requester: parseEnode(server.enode), hopsLeft: 1 }))
        const acked = (): boolean => received.some((r) => r.from === peer.id && r.msg.code === FloodnetMsg.JoinAck && decodeAck(r.msg.payload) === token)
        await waitFor(acked, QUICK, 'the node to take the raw link into its overlay (its JOIN_ACK)')
      }
      return rw
    },
  }
  return raw
}
