/**
 * The broadcasts a node keeps for late joiners: the newest {@link HISTORY_COUNT} of the
 * last {@link HISTORY_AGE}, ordered by (timestamp, id).
 *
 * The store also decides which history entries are new to us. An entry is taken only if it
 * is not held and would be kept — younger than the age limit and, when the store is full,
 * later than its oldest entry. Since the store evicts in that same order, an entry shown
 * once is either still held or older than anything the store would take: a second copy of
 * it, from another neighbour or a replaying one, is never shown again.
 * @module
 */

/** A verified broadcast, as kept. */
export interface HistoryEntry {
  id: string
  timestamp: number
  payload: Uint8Array
}

const before = (a: HistoryEntry, b: HistoryEntry): boolean => a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.id < b.id)

export class HistoryStore {
  readonly count: number
  readonly age: number
  /** Oldest first. */
  #entries: HistoryEntry[] = []
  #ids = new Set<string>()

  constructor(count: number, age: number) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`history count must be a positive integer, got ${count}`)
    this.count = count
    this.age = age
  }

  get size(): number {
    return this.#entries.length
  }

  /** Bytes of the envelopes held. */
  get bytes(): number {
    return this.#entries.reduce((sum, e) => sum + e.payload.length, 0)
  }

  has(id: string): boolean {
    return this.#ids.has(id)
  }

  /** Adds `entry` if it is new and would be kept (see the module comment); returns whether it was. */
  add(entry: HistoryEntry, now: number): boolean {
    this.#prune(now)
    if (this.#ids.has(entry.id) || entry.timestamp < now - this.age) return false
    const entries = this.#entries
    if (entries.length >= this.count && !before(entries[0]!, entry)) return false
    let i = entries.length
    while (i > 0 && before(entry, entries[i - 1]!)) i--
    entries.splice(i, 0, entry)
    this.#ids.add(entry.id)
    if (entries.length > this.count) this.#ids.delete(entries.shift()!.id)
    return true
  }

  /** The envelopes held, oldest first. */
  payloads(now: number): Uint8Array[] {
    this.#prune(now)
    return this.#entries.map((e) => e.payload)
  }

  #prune(now: number): void {
    const entries = this.#entries
    while (entries.length > 0 && entries[0]!.timestamp < now - this.age) this.#ids.delete(entries.shift()!.id)
  }
}
