/**
 * The Kademlia node table, with go-ethereum's (1.11) bucket rules and nothing else: no
 * timers, no sockets. The protocol engine decides when to call what; every rule here is a
 * synchronous, deterministic function of the table and the injected randomness, so table
 * tests can drive it directly (as geth's `table_test.go` does).
 *
 * - 17 buckets of 16 for log-distances 240…256; every closer node shares bucket 0.
 * - A node seen in a Neighbours reply goes to the *back* of its bucket when there is room,
 *   else to the bucket's replacement list (newest 10). A node that proved itself (answered
 *   our ping after pinging us) goes to the *front*, or moves there when present.
 * - At most 2 addresses of one /24 per bucket and 10 per table; loopback and LAN addresses
 *   are exempt, so a private network is never IP-limited.
 * - A dead node is replaced by a random entry of its bucket's replacement list.
 * @module
 */
import type { Random } from '../random.js'
import { isLAN } from '../netutil.js'
import { DistinctNetSet } from './ip.js'
import { logDistance, NodesByDistance, type NodeInfo } from './node.js'

/** Table sizes and limits; the defaults are geth's. */
export interface TableLimits {
  /** Live entries per bucket (Kademlia k). @default 16 */
  bucketSize: number
  /** Replacement entries per bucket. @default 10 */
  maxReplacements: number
  /** Addresses of one /24 per bucket. @default 2 */
  bucketIpLimit: number
  /** Addresses of one /24 in the whole table. @default 10 */
  tableIpLimit: number
}

/** geth's table constants. */
export const TABLE_DEFAULTS: TableLimits = { bucketSize: 16, maxReplacements: 10, bucketIpLimit: 2, tableIpLimit: 10 }

/** Number of buckets: 256 / 15, covering the log-distances likely to occur. */
export const N_BUCKETS = 17
const BUCKET_MIN_DISTANCE = 256 - N_BUCKETS
const SUBNET_BITS = 24

/** A table entry: the node plus what the table learned about it. */
export interface TableEntry {
  node: NodeInfo
  /** When it entered the live list (ms). */
  addedAt: number
  /** Pings it answered while in the table; 0 means never confirmed. */
  livenessChecks: number
}

interface Bucket {
  entries: TableEntry[]
  replacements: TableEntry[]
  ips: DistinctNetSet
}

/** What happened to a node offered to the table. */
export type AddResult = 'added' | 'bumped' | 'present' | 'replacement' | 'ip-limit' | 'self'

/** Called when a node enters or leaves the live lists. */
export interface TableHooks {
  added?(entry: TableEntry): void
  removed?(entry: TableEntry): void
}

/** The node table of one local node. */
export class Table {
  readonly selfId: Buffer
  readonly limits: TableLimits
  readonly #buckets: Bucket[]
  readonly #ips: DistinctNetSet
  readonly #random: Random
  readonly #hooks: TableHooks

  constructor(selfId: Buffer, random: Random, limits: Partial<TableLimits> = {}, hooks: TableHooks = {}) {
    this.selfId = selfId
    this.limits = { ...TABLE_DEFAULTS, ...limits }
    this.#random = random
    this.#hooks = hooks
    this.#ips = new DistinctNetSet(SUBNET_BITS, this.limits.tableIpLimit)
    this.#buckets = Array.from({ length: N_BUCKETS }, () => ({
      entries: [],
      replacements: [],
      ips: new DistinctNetSet(SUBNET_BITS, this.limits.bucketIpLimit),
    }))
  }

  /** The bucket index a node id falls in. */
  bucketIndex(id: Uint8Array): number {
    const d = logDistance(this.selfId, id)
    return d <= BUCKET_MIN_DISTANCE ? 0 : d - BUCKET_MIN_DISTANCE - 1
  }

  /** Live entries of bucket `i`, most recently confirmed first. */
  bucketEntries(i: number): readonly TableEntry[] {
    return this.#buckets[i]!.entries
  }

  /** Replacement entries of bucket `i`, newest first. */
  bucketReplacements(i: number): readonly TableEntry[] {
    return this.#buckets[i]!.replacements
  }

  /** The live entry for `id`, if any. */
  get(id: string): TableEntry | undefined {
    const idBytes = Buffer.from(id, 'hex')
    if (idBytes.length !== 32) return undefined
    return this.#buckets[this.bucketIndex(idBytes)]!.entries.find((e) => e.node.id === id)
  }

  /** Number of live entries. */
  get size(): number {
    let n = 0
    for (const b of this.#buckets) n += b.entries.length
    return n
  }

  /** Every live entry, bucket by bucket. */
  entries(): TableEntry[] {
    return this.#buckets.flatMap((b) => b.entries)
  }

  /**
   * Offers a node seen in a Neighbours reply (or a seed): appended when its bucket has room,
   * else kept as a replacement.
   */
  addSeenNode(node: NodeInfo, now: number): AddResult {
    if (node.idBytes.equals(this.selfId)) return 'self'
    const b = this.#bucketOf(node)
    if (b.entries.some((e) => e.node.id === node.id)) return 'present'
    if (b.entries.length >= this.limits.bucketSize) return this.#addReplacement(b, node, now)
    if (!this.#addIp(b, node.ip)) return 'ip-limit'
    const entry: TableEntry = { node, addedAt: now, livenessChecks: 0 }
    b.entries.push(entry)
    this.#dropReplacement(b, node.id)
    this.#hooks.added?.(entry)
    return 'added'
  }

  /**
   * Offers a node that just proved its endpoint: moved to the front when present (its
   * endpoint updated if the IP limits allow), else inserted at the front when there is room,
   * else kept as a replacement.
   */
  addVerifiedNode(node: NodeInfo, now: number): AddResult {
    if (node.idBytes.equals(this.selfId)) return 'self'
    const b = this.#bucketOf(node)
    if (this.#bump(b, node)) return 'bumped'
    if (b.entries.length >= this.limits.bucketSize) return this.#addReplacement(b, node, now)
    if (!this.#addIp(b, node.ip)) return 'ip-limit'
    const entry: TableEntry = { node, addedAt: now, livenessChecks: 0 }
    b.entries.unshift(entry)
    this.#dropReplacement(b, node.id)
    this.#hooks.added?.(entry)
    return 'added'
  }

  /** Removes a node from the live list (not from the replacements). */
  delete(id: string): boolean {
    const idBytes = Buffer.from(id, 'hex')
    if (idBytes.length !== 32) return false
    const b = this.#buckets[this.bucketIndex(idBytes)]!
    const i = b.entries.findIndex((e) => e.node.id === id)
    if (i < 0) return false
    const [entry] = b.entries.splice(i, 1)
    this.#removeIp(b, entry!.node.ip)
    this.#hooks.removed?.(entry!)
    return true
  }

  /**
   * The node revalidation should ping next: the last (least recently confirmed) entry of a
   * random non-empty bucket.
   */
  nodeToRevalidate(): TableEntry | undefined {
    const order = this.#permutation(N_BUCKETS)
    for (const i of order) {
      const b = this.#buckets[i]!
      if (b.entries.length > 0) return b.entries[b.entries.length - 1]
    }
    return undefined
  }

  /**
   * Records a revalidation answer: the node (with its possibly newer record) moves to the
   * front and counts one more liveness check.
   */
  revalidated(node: NodeInfo): void {
    const b = this.#bucketOf(node)
    const entry = b.entries.find((e) => e.node.id === node.id)
    if (!entry) return
    entry.livenessChecks++
    this.#bump(b, node)
  }

  /**
   * Records a revalidation miss: when `id` is still the bucket's last entry, a random
   * replacement takes its place (or it is just removed). Returns the replacement, if any.
   */
  revalidationFailed(id: string): TableEntry | undefined {
    const b = this.#buckets[this.bucketIndex(Buffer.from(id, 'hex'))]!
    const last = b.entries[b.entries.length - 1]
    // it moved (answered something meanwhile) or was replaced already
    if (!last || last.node.id !== id) return undefined
    if (b.replacements.length === 0) {
      this.delete(id)
      return undefined
    }
    const r = b.replacements[Math.floor(this.#random() * b.replacements.length)]!
    b.replacements.splice(b.replacements.indexOf(r), 1)
    b.entries[b.entries.length - 1] = r
    this.#removeIp(b, last.node.ip)
    this.#hooks.removed?.(last)
    this.#hooks.added?.(r)
    return r
  }

  /**
   * The `n` live nodes closest to `target`. With `preferLive`, only nodes that answered a
   * revalidation ping are returned, if there are any (what geth answers FindNode with).
   */
  closest(target: Uint8Array, n: number, preferLive = false): NodeInfo[] {
    const all = new NodesByDistance<NodeInfo>(target, n)
    const live = new NodesByDistance<NodeInfo>(target, n)
    for (const b of this.#buckets) {
      for (const e of b.entries) {
        all.push(e.node)
        if (preferLive && e.livenessChecks > 0) live.push(e.node)
      }
    }
    return preferLive && live.entries.length > 0 ? live.entries : all.entries
  }

  /** Up to `n` distinct live nodes in random order. */
  randomNodes(n: number): NodeInfo[] {
    const nodes = this.entries().map((e) => e.node)
    for (let i = nodes.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1))
      ;[nodes[i], nodes[j]] = [nodes[j]!, nodes[i]!]
    }
    return nodes.slice(0, n)
  }

  #bucketOf(node: NodeInfo): Bucket {
    return this.#buckets[this.bucketIndex(node.idBytes)]!
  }

  #addReplacement(b: Bucket, node: NodeInfo, now: number): AddResult {
    if (b.replacements.some((e) => e.node.id === node.id)) return 'present'
    if (!this.#addIp(b, node.ip)) return 'ip-limit'
    b.replacements.unshift({ node, addedAt: now, livenessChecks: 0 })
    if (b.replacements.length > this.limits.maxReplacements) this.#removeIp(b, b.replacements.pop()!.node.ip)
    return 'replacement'
  }

  #dropReplacement(b: Bucket, id: string): void {
    const i = b.replacements.findIndex((e) => e.node.id === id)
    if (i < 0) return
    const [gone] = b.replacements.splice(i, 1)
    // the IP was counted once for the replacement and once more for the new live entry
    this.#removeIp(b, gone!.node.ip)
  }

  /** Moves the node to the front when present, taking its new endpoint if the IP limits allow. */
  #bump(b: Bucket, node: NodeInfo): boolean {
    const i = b.entries.findIndex((e) => e.node.id === node.id)
    if (i < 0) return false
    const entry = b.entries[i]!
    if (entry.node.ip !== node.ip) {
      this.#removeIp(b, entry.node.ip)
      if (!this.#addIp(b, node.ip)) {
        this.#addIp(b, entry.node.ip)
        return false
      }
    }
    entry.node = node
    b.entries.splice(i, 1)
    b.entries.unshift(entry)
    return true
  }

  #addIp(b: Bucket, ip: string): boolean {
    if (isLAN(ip)) return true
    if (!this.#ips.add(ip)) return false
    if (!b.ips.add(ip)) {
      this.#ips.remove(ip)
      return false
    }
    return true
  }

  #removeIp(b: Bucket, ip: string): void {
    if (isLAN(ip)) return
    this.#ips.remove(ip)
    b.ips.remove(ip)
  }

  #permutation(n: number): number[] {
    const order = [...Array(n).keys()]
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1))
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    return order
  }
}
