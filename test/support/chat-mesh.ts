// Chat nodes in one process on one VirtualClock, linked by in-memory MsgPipes: time moves
// only when a test advances it, so presence timeouts, receipt deadlines and the clock
// window are exact. `raw` links give a test a hand-driven chat/2 peer.
import { generatePrivateKey, MsgPipe, nodeId, publicKeyOf, type MsgPipeEnd, type Peer } from '../../lib/index.js'
import { VirtualClock } from '../../lib/clock.js'
import { seededRandom } from '../../lib/random.js'
import { Chat, CHAT_CODES, type ChatMessage, type ChatOptions, type Member, type Receipt } from '../../protocols/chat/index.js'

/** Lets in-memory promise chains run to rest; no wall-clock time is involved. */
export async function settle(turns = 30): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve))
}

export interface Log {
  messages: ChatMessage[]
  directs: ChatMessage[]
  history: ChatMessage[]
  receipts: Receipt[]
  joins: { nick: string; returning: boolean }[]
  leaves: { nick: string; reason: string }[]
  renames: { from: string; to: string }[]
  rejected: string[]
}

export interface MeshNode {
  chat: Chat
  key: Buffer
  id: string
  publicKey: Buffer
  log: Log
  /** Pipe ends by the id of the node at the other end, for cutting links. */
  ends: Map<string, MsgPipeEnd>
  /** Errors the protocol's run() ended with, per link. */
  runErrors: Error[]
}

let port = 40000

/** Nodes sharing one virtual clock. */
export class Mesh {
  readonly clock = new VirtualClock()
  readonly nodes: MeshNode[] = []
  #seed = 1

  node(nick: string, options: Partial<ChatOptions> = {}): MeshNode {
    const key = generatePrivateKey()
    const publicKey = publicKeyOf(key)
    const id = nodeId(publicKey)
    const chat = new Chat({ privateKey: key, nick, clock: this.clock, random: seededRandom(this.#seed++), presenceInterval: 10_000, receiptTimeout: 5000, ...options })
    chat.attach({ id, enode: `enode://${publicKey.toString('hex')}@127.0.0.1:${port++}` })
    const log: Log = { messages: [], directs: [], history: [], receipts: [], joins: [], leaves: [], renames: [], rejected: [] }
    chat.events.on('message', (m) => log.messages.push(m))
    chat.events.on('direct', (m) => log.directs.push(m))
    chat.events.on('history', (m) => log.history.push(m))
    chat.events.on('receipt', (r) => log.receipts.push(r))
    chat.events.on('join', (e) => log.joins.push({ nick: e.member.nick, returning: e.returning }))
    chat.events.on('leave', (e) => log.leaves.push({ nick: e.member.nick, reason: e.reason }))
    chat.events.on('rename', (e) => log.renames.push({ from: e.from, to: e.member.nick }))
    chat.events.on('rejected', (e) => log.rejected.push(e.reason))
    const node: MeshNode = { chat, key, id, publicKey, log, ends: new Map(), runErrors: [] }
    this.nodes.push(node)
    return node
  }

  /** Links two nodes' chat protocols over a pipe, as a server would on a new peer. */
  link(a: MeshNode, b: MeshNode): void {
    const [x, y] = MsgPipe(CHAT_CODES, 'chat')
    a.ends.set(b.id, x)
    b.ends.set(a.id, y)
    this.#run(a, b, x)
    this.#run(b, a, y)
  }

  /** Links `a` to a hand-driven peer with key `key`; returns the peer's end of the pipe. */
  raw(a: MeshNode, key = generatePrivateKey()): { end: MsgPipeEnd; key: Buffer; id: string } {
    const [x, y] = MsgPipe(CHAT_CODES, 'chat')
    const publicKey = publicKeyOf(key)
    const id = nodeId(publicKey)
    a.ends.set(id, x)
    this.#run(a, { id, publicKey }, x)
    return { end: y, key, id }
  }

  /** Cuts the link between two nodes (both runs end). */
  cut(a: MeshNode, b: MeshNode): void {
    a.ends.get(b.id)?.close()
  }

  #run(node: MeshNode, peer: { id: string; publicKey: Buffer }, end: MsgPipeEnd): void {
    Promise.resolve(node.chat.protocol.run(peer as Peer, end)).catch((err: Error) => node.runErrors.push(err))
  }

  /** Advances the clock by `ms`, letting deliveries run at each timer. */
  async advance(ms: number): Promise<void> {
    await settle()
    await this.clock.advance(ms)
    await settle()
  }

  stop(): void {
    for (const n of this.nodes) n.chat.stop()
    for (const n of this.nodes) for (const end of n.ends.values()) end.close()
  }
}

export const nicks = (members: Member[]): string[] => members.map((m) => m.nick).sort()
