/**
 * The node database: what discovery knows about other nodes (key, endpoint, record, when they
 * last pinged and answered us, failed queries), our own record's seq, and the node ids learned
 * by address (trust on first use). In memory, bounded, and optionally persisted to one JSON
 * file under a data directory.
 *
 * Persistence is atomic file replacement — write a temporary file, fsync it, rename it over
 * the old one, fsync the directory — so a crash or kill -9 at any instant leaves either the
 * previous file or the new one, never a torn one. An unreadable file is moved aside (a
 * warning says where) and the node starts fresh. Writes are batched: at most one per
 * `flushInterval`, plus one at close and one right after learning an address's identity.
 * @module
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { systemClock, type Clock } from '../clock.js'
import { isValidPublicKey } from '../crypto/index.js'
import { Enr } from '../enr.js'
import { logger } from '../log.js'
import type { Random } from '../random.js'
import { canonicalIp } from './ip.js'
import { makeNode, type NodeInfo } from './node.js'

const log = logger('devp2p:disc')

/** The file name under the data directory. */
export const NODEDB_FILE = 'nodes.json'
const FORMAT_VERSION = 1

/** Options of {@link NodeDB.open}. */
export interface NodeDBOptions {
  /** Most nodes that answered us kept (and persisted); the least recently active go first. @default 1000 */
  maxNodes?: number
  /** Most nodes that pinged us but never answered a ping, kept in memory only. @default 1000 */
  maxUnproven?: number
  /** Most address → id bindings remembered. @default 1000 */
  maxAddresses?: number
  /** Least time between two writes of the file (ms). @default 30000 */
  flushInterval?: number
  clock?: Clock
  /** Told when the file was unreadable and moved aside. @default process.emitWarning */
  onWarning?: (message: string) => void
}

interface Entry {
  publicKey: Buffer
  id: string
  ip: string
  udp: number
  tcp: number
  record?: Enr
  lastPing: number
  lastPong: number
  fails: number
}

interface FileShape {
  version: number
  localSeq?: string
  nodes: { key: string; ip: string; udp: number; tcp: number; enr?: string; lastPing: number; lastPong: number; fails: number }[]
  addresses: { address: string; id: string }[]
}

/** Known nodes and our own record's seq; see the module comment. */
export class NodeDB {
  /** The file backing this database, or undefined when it lives in memory only. */
  readonly file: string | undefined
  readonly #maxNodes: number
  readonly #maxUnproven: number
  readonly #maxAddresses: number
  readonly #flushInterval: number
  readonly #clock: Clock
  /** Nodes that answered a ping; Map order is least recently active first. */
  readonly #nodes = new Map<string, Entry>()
  /** Nodes that only pinged us. */
  readonly #unproven = new Map<string, Entry>()
  readonly #addresses = new Map<string, string>()
  #localSeq: bigint | undefined
  #dirty = false
  #timer: ReturnType<Clock['setTimeout']> | undefined
  #writing: Promise<void> | undefined
  #closed = false

  private constructor(file: string | undefined, options: NodeDBOptions) {
    this.file = file
    this.#maxNodes = options.maxNodes ?? 1000
    this.#maxUnproven = options.maxUnproven ?? 1000
    this.#maxAddresses = options.maxAddresses ?? 1000
    this.#flushInterval = options.flushInterval ?? 30_000
    this.#clock = options.clock ?? systemClock
  }

  /**
   * Opens the database in `dir` (created if missing), or an in-memory one when `dir` is
   * undefined. A file that cannot be read is renamed to `nodes.json.corrupt-<time>`.
   */
  static async open(dir: string | undefined, options: NodeDBOptions = {}): Promise<NodeDB> {
    const db = new NodeDB(dir === undefined ? undefined : join(dir, NODEDB_FILE), options)
    if (dir === undefined) return db
    await mkdir(dir, { recursive: true })
    await removeStaleTemps(dir)
    let text: string | undefined
    try {
      text = await readFile(db.file!, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (text !== undefined) {
      try {
        db.#load(JSON.parse(text))
      } catch (err) {
        const aside = `${db.file}.corrupt-${db.#clock.now()}`
        await rename(db.file!, aside)
        db.#nodes.clear()
        db.#addresses.clear()
        db.#localSeq = undefined
        const warn = options.onWarning ?? ((m: string) => process.emitWarning(m, { code: 'DEVP2P_NODEDB_UNREADABLE' }))
        warn(`node database ${db.file} was unreadable (${(err as Error).message}); moved it to ${aside} and started with an empty one`)
      }
    }
    return db
  }

  /** Nodes kept that answered a ping. */
  get size(): number {
    return this.#nodes.size
  }

  /** Nodes kept that only pinged us (memory only). */
  get unprovenSize(): number {
    return this.#unproven.size
  }

  /** When `id` at `ip` last pinged us (ms), 0 if never. */
  lastPingReceived(id: string, ip: string): number {
    const e = this.#nodes.get(id) ?? this.#unproven.get(id)
    return e && e.ip === ip ? e.lastPing : 0
  }

  /** When `id` at `ip` last answered our ping (ms), 0 if never: the endpoint proof. */
  lastPongReceived(id: string, ip: string): number {
    const e = this.#nodes.get(id)
    return e && e.ip === ip ? e.lastPong : 0
  }

  /** Consecutive failed FindNode queries to `id` at `ip`. */
  findFails(id: string, ip: string): number {
    const e = this.#nodes.get(id)
    return e && e.ip === ip ? e.fails : 0
  }

  /** Records a ping from `node` (its endpoint as the packet showed it). */
  updateLastPingReceived(node: NodeInfo, time: number): void {
    const proven = this.#nodes.get(node.id)
    if (proven) {
      this.#touch(proven, node)
      proven.lastPing = time
      return
    }
    const e = this.#unproven.get(node.id) ?? newEntry(node)
    if (e.ip !== node.ip) e.lastPing = 0
    Object.assign(e, { ip: node.ip, udp: node.udp, tcp: node.tcp, lastPing: time })
    this.#unproven.delete(node.id)
    this.#unproven.set(node.id, e)
    if (this.#unproven.size > this.#maxUnproven) this.#unproven.delete(this.#unproven.keys().next().value!)
  }

  /** Records that `node` answered our ping: it proved its endpoint. */
  updateLastPongReceived(node: NodeInfo, time: number): void {
    let e = this.#nodes.get(node.id)
    if (!e) {
      e = this.#unproven.get(node.id) ?? newEntry(node)
      this.#unproven.delete(node.id)
      if (e.ip !== node.ip) e.lastPing = 0
      this.#nodes.set(node.id, e)
    }
    this.#touch(e, node)
    e.lastPong = time
    if (this.#nodes.size > this.#maxNodes) this.#nodes.delete(this.#nodes.keys().next().value!)
    this.#changed()
  }

  /** Sets the count of consecutive failed FindNode queries. */
  updateFindFails(id: string, ip: string, fails: number): void {
    const e = this.#nodes.get(id)
    if (!e || e.ip !== ip || e.fails === fails) return
    e.fails = fails
    this.#changed()
  }

  /** Stores a newer record (or endpoint) of a known node. */
  updateNode(node: NodeInfo): void {
    const e = this.#nodes.get(node.id)
    if (!e) return
    if (node.record && (!e.record || node.record.seq >= e.record.seq)) e.record = node.record
    if (node.ip !== e.ip) return
    e.udp = node.udp
    e.tcp = node.tcp
    this.#changed()
  }

  /** The stored node `id`, if it answered us once. */
  node(id: string): NodeInfo | undefined {
    const e = this.#nodes.get(id)
    return e && makeNode(e.publicKey, e.ip, e.udp, e.tcp, e.record)
  }

  /**
   * Up to `n` random nodes that answered a ping within `maxAge` ms: what a (re)started node
   * tries first, so it finds its network again without a bootnode.
   */
  querySeeds(n: number, maxAge: number, random: Random): NodeInfo[] {
    const now = this.#clock.now()
    const fresh = [...this.#nodes.values()].filter((e) => now - e.lastPong <= maxAge)
    for (let i = fresh.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[fresh[i], fresh[j]] = [fresh[j]!, fresh[i]!]
    }
    return fresh.slice(0, n).map((e) => makeNode(e.publicKey, e.ip, e.udp, e.tcp, e.record))
  }

  /** The seq of our own record when it was last stored. */
  get localSeq(): bigint | undefined {
    return this.#localSeq
  }

  /** Stores the seq of our own record. */
  setLocalSeq(seq: bigint): void {
    if (this.#localSeq === seq) return
    this.#localSeq = seq
    this.#changed()
  }

  /** The node id learned at `address` (`host:port`) by a previous connect-by-address. */
  learnedId(address: string): string | undefined {
    return this.#addresses.get(address)
  }

  /** Remembers `id` for `address` and writes the file soon after. */
  learn(address: string, id: string): void {
    this.#addresses.delete(address)
    this.#addresses.set(address, id)
    if (this.#addresses.size > this.#maxAddresses) this.#addresses.delete(this.#addresses.keys().next().value!)
    this.#changed(true)
  }

  /** Forgets the id learned for `address`, so the next connect trusts whatever answers. */
  forget(address: string): void {
    if (this.#addresses.delete(address)) this.#changed(true)
  }

  /** Writes the file now if anything changed (resolves once it is on disk). */
  async flush(): Promise<void> {
    this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    while (this.#writing) await this.#writing
    if (!this.#dirty || this.file === undefined) return
    this.#dirty = false
    this.#writing = writeAtomic(this.file, JSON.stringify(this.#snapshot())).finally(() => {
      this.#writing = undefined
    })
    await this.#writing
  }

  /** Flushes and stops the flush timer; later changes stay in memory only. */
  async close(): Promise<void> {
    await this.flush()
    this.#closed = true
  }

  #touch(e: Entry, node: NodeInfo): void {
    if (e.ip !== node.ip) {
      e.lastPing = 0
      e.lastPong = 0
      e.fails = 0
    }
    Object.assign(e, { ip: node.ip, udp: node.udp, tcp: node.tcp })
    if (node.record && (!e.record || node.record.seq >= e.record.seq)) e.record = node.record
    // keep Map order = least recently active first, for eviction
    this.#nodes.delete(e.id)
    this.#nodes.set(e.id, e)
  }

  #changed(soon = false): void {
    this.#dirty = true
    if (this.file === undefined || this.#closed) return
    if (soon) {
      this.#clock.clearTimeout(this.#timer)
      this.#timer = undefined
      void this.flush().catch((err) => log('node database write failed: %s', (err as Error).message))
      return
    }
    if (this.#timer) return
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      void this.flush().catch((err) => log('node database write failed: %s', (err as Error).message))
    }, this.#flushInterval)
    this.#timer.unref()
  }

  #snapshot(): FileShape {
    return {
      version: FORMAT_VERSION,
      ...(this.#localSeq !== undefined && { localSeq: this.#localSeq.toString() }),
      nodes: [...this.#nodes.values()].map((e) => ({
        key: e.publicKey.toString('hex'),
        ip: e.ip,
        udp: e.udp,
        tcp: e.tcp,
        ...(e.record && { enr: e.record.toString() }),
        lastPing: e.lastPing,
        lastPong: e.lastPong,
        fails: e.fails,
      })),
      addresses: [...this.#addresses].map(([address, id]) => ({ address, id })),
    }
  }

  /** Reads a parsed file; throws when its shape is wrong, skips (and logs) single bad entries. */
  #load(data: unknown): void {
    const file = data as Partial<FileShape> | null
    if (typeof file !== 'object' || file === null || file.version !== FORMAT_VERSION || !Array.isArray(file.nodes) || !Array.isArray(file.addresses)) {
      throw new Error(`not a version ${FORMAT_VERSION} node database`)
    }
    if (file.localSeq !== undefined) this.#localSeq = BigInt(file.localSeq)
    for (const n of file.nodes.slice(-this.#maxNodes)) {
      const entry = entryOf(n)
      if (entry) this.#nodes.set(entry.id, entry)
      else log('node database: skipped a malformed node entry')
    }
    for (const a of file.addresses.slice(-this.#maxAddresses)) {
      if (typeof a?.address === 'string' && typeof a.id === 'string' && /^[0-9a-f]{64}$/.test(a.id)) this.#addresses.set(a.address, a.id)
    }
  }
}

function newEntry(node: NodeInfo): Entry {
  return { publicKey: node.publicKey, id: node.id, ip: node.ip, udp: node.udp, tcp: node.tcp, lastPing: 0, lastPong: 0, fails: 0, ...(node.record && { record: node.record }) }
}

function entryOf(n: FileShape['nodes'][number]): Entry | undefined {
  if (typeof n !== 'object' || n === null || typeof n.key !== 'string' || !/^[0-9a-f]{128}$/.test(n.key)) return undefined
  const publicKey = Buffer.from(n.key, 'hex')
  const ip = typeof n.ip === 'string' ? canonicalIp(n.ip) : undefined
  if (!isValidPublicKey(publicKey) || ip === undefined || !isPort(n.udp) || !isPort(n.tcp)) return undefined
  const bare = makeNode(publicKey, ip, n.udp, n.tcp)
  const record = typeof n.enr === 'string' ? recordOf(n.enr, bare.id) : undefined
  const node = record ? makeNode(publicKey, ip, n.udp, n.tcp, record) : bare
  return { ...newEntry(node), lastPing: finite(n.lastPing), lastPong: finite(n.lastPong), fails: finite(n.fails) }
}

/** A stored record, if it still parses and belongs to the node; a bad one is dropped, not fatal. */
function recordOf(text: string, id: string): Enr | undefined {
  try {
    const record = Enr.parse(text)
    return record.id === id ? record : undefined
  } catch {
    return undefined
  }
}

const isPort = (p: unknown): p is number => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 0xffff
const finite = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0)

/** Temporary files a killed writer left behind. */
async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.startsWith(`${NODEDB_FILE}.tmp-`)) await unlink(join(dir, name)).catch(() => {})
  }
}

/** Writes `text` to `file` so that a crash leaves the old or the new content, never a mix. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`
  const handle = await open(temp, 'w')
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temp, file)
  // the rename itself is durable only once the directory entry is
  const dir = await open(join(file, '..'), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
