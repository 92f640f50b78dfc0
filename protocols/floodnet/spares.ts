/**
 * Spares: addresses of floodnet nodes a node is not linked to, kept to repair its
 * neighbourhood through (HyParView's passive view). A mass failure leaves islands whose
 * nodes can fill their neighbourhood from each other; a repair that starts at a spare — a
 * node picked at random from the whole overlay — links an island back to the rest.
 *
 * - Learnt from the requesters of JOIN_REQs that pass through, from neighbours' own enodes,
 *   and from `SPARES` messages, which every node sends one random neighbour now and then:
 *   itself and a few random spares. Gossiped that way, the sets stay a random, fresh sample.
 * - `SPARES [[key, host, port], …]` carries at most {@link MAX_SPARES_PER_MESSAGE}
 *   entries, each an address to dial; a node that does not listen sends none of itself.
 * - Bounded ({@link MAX_SPARES}); a new entry replaces a random one when full. An entry
 *   is hearsay until dialled: a dial that fails removes it.
 * @module
 */
import { RLP } from '@ethereumjs/rlp'
import { MessageDecodeError, nodeId, uint, type Enode, type RlpItem } from '../../lib/index.js'
import type { Random } from '../../lib/random.js'

/** Spares a node keeps. */
export const MAX_SPARES = 32
/** Entries in one SPARES message. */
export const MAX_SPARES_PER_MESSAGE = 8

/** A bounded set of enodes with addresses, by node id. */
export class SpareSet {
  #entries: Enode[] = []
  readonly capacity: number

  constructor(capacity = MAX_SPARES) {
    this.capacity = capacity
  }

  get size(): number {
    return this.#entries.length
  }

  has(id: string): boolean {
    return this.#entries.some((e) => e.id === id)
  }

  /** Adds (or updates the address of) `node`; when full, a random entry makes room. */
  add(node: Enode, random: Random): void {
    const i = this.#entries.findIndex((e) => e.id === node.id)
    if (i >= 0) this.#entries[i] = node
    else if (this.#entries.length < this.capacity) this.#entries.push(node)
    else this.#entries[Math.floor(random() * this.#entries.length)] = node
  }

  remove(id: string): void {
    this.#entries = this.#entries.filter((e) => e.id !== id)
  }

  /** A random entry that `usable` accepts, or undefined. */
  pick(random: Random, usable: (node: Enode) => boolean = () => true): Enode | undefined {
    const candidates = this.#entries.filter(usable)
    return candidates.length === 0 ? undefined : candidates[Math.floor(random() * candidates.length)]
  }

  /** Up to `n` distinct random entries. */
  sample(n: number, random: Random): Enode[] {
    const copy = [...this.#entries]
    const out: Enode[] = []
    while (out.length < n && copy.length > 0) out.push(copy.splice(Math.floor(random() * copy.length), 1)[0]!)
    return out
  }
}

/** Encodes a SPARES message. @throws {RangeError} beyond {@link MAX_SPARES_PER_MESSAGE} entries or for an entry without an address */
export function encodeSpares(nodes: Enode[]): Uint8Array {
  if (nodes.length > MAX_SPARES_PER_MESSAGE) throw new RangeError(`a SPARES message holds at most ${MAX_SPARES_PER_MESSAGE} entries, got ${nodes.length}`)
  return RLP.encode(
    nodes.map((n) => {
      if (n.host === undefined || n.tcpPort === undefined) throw new RangeError(`spare ${n.id.slice(0, 8)} has no address`)
      return [n.publicKey, n.host, n.tcpPort]
    }),
  )
}

/** @throws {MessageDecodeError} when the message is not a list of at most {@link MAX_SPARES_PER_MESSAGE} `[key, host, port]` entries with addresses */
export function decodeSpares(payload: Uint8Array): Enode[] {
  let list: unknown
  try {
    list = RLP.decode(payload)
  } catch (err) {
    throw new MessageDecodeError(`SPARES is not valid RLP: ${(err as Error).message}`)
  }
  if (!Array.isArray(list)) throw new MessageDecodeError('SPARES must be a list')
  if (list.length > MAX_SPARES_PER_MESSAGE) throw new MessageDecodeError(`SPARES holds at most ${MAX_SPARES_PER_MESSAGE} entries, got ${list.length}`)
  return list.map((item: unknown, i) => {
    if (!Array.isArray(item) || item.length < 3) throw new MessageDecodeError(`SPARES entry ${i} must be [key, host, port]`)
    const [key, host, port] = item as RlpItem[]
    if (!(key instanceof Uint8Array) || key.length !== 64) throw new MessageDecodeError(`SPARES entry ${i} key must be 64 bytes`)
    if (!(host instanceof Uint8Array) || host.length === 0 || host.length > 64) throw new MessageDecodeError(`SPARES entry ${i} host must be 1 to 64 bytes`)
    const tcpPort = uint(port, `SPARES entry ${i} port`, 2)
    if (tcpPort === 0) throw new MessageDecodeError(`SPARES entry ${i} port must not be 0`)
    const publicKey = Buffer.from(key)
    return { publicKey, id: nodeId(publicKey), host: Buffer.from(host).toString('utf8'), tcpPort }
  })
}
