/**
 * An iterative Kademlia lookup as go-ethereum runs one (`p2p/discover/lookup.go`): start
 * from the table's 16 nodes closest to the target, keep up to α = 3 FindNode queries in
 * flight, always to the closest node not yet asked among the best 16 seen, and stop when
 * none is left to ask.
 * @module
 */
import { NodesByDistance, type NodeInfo } from './node.js'

/** What a {@link Lookup} runs on. */
export interface LookupDeps {
  /** The 32-byte id the lookup approaches. */
  target: Buffer
  /** Our own id, never queried. */
  selfId: string
  /** The table's nodes closest to the target. */
  closest: () => NodeInfo[]
  /** Asks one node; resolves with what it returned (empty on failure). */
  query: (node: NodeInfo) => Promise<NodeInfo[]>
  /** Result size. @default 16 */
  bucketSize?: number
  /** Queries in flight. @default 3 */
  alpha?: number
  /** Told about every node seen for the first time (table nodes included), as it is seen. */
  onSeen?: (nodes: NodeInfo[]) => void
}

/** One lookup; {@link run} it once. */
export class Lookup {
  readonly #d: LookupDeps
  readonly #result: NodesByDistance<NodeInfo>
  readonly #asked = new Set<string>()
  readonly #seen = new Set<string>()
  #inflight = 0
  #cancelled = false
  /** FindNode queries sent. */
  queries = 0

  constructor(deps: LookupDeps) {
    this.#d = deps
    this.#result = new NodesByDistance(deps.target, deps.bucketSize ?? 16)
    this.#asked.add(deps.selfId)
  }

  /** Runs to the end; resolves with the closest nodes found (at most 16). */
  run(): Promise<NodeInfo[]> {
    this.#take(this.#d.closest())
    return new Promise((resolve) => {
      const pump = (): void => {
        const alpha = this.#d.alpha ?? 3
        for (const n of this.#result.entries) {
          if (this.#cancelled || this.#inflight >= alpha) break
          if (this.#asked.has(n.id)) continue
          this.#asked.add(n.id)
          this.#inflight++
          this.queries++
          this.#d.query(n).then(
            (nodes) => this.#answered(nodes, pump),
            () => this.#answered([], pump),
          )
        }
        if (this.#inflight === 0) resolve(this.#result.entries)
      }
      pump()
    })
  }

  /** Sends no further queries; {@link run} resolves once those in flight end. */
  cancel(): void {
    this.#cancelled = true
  }

  #answered(nodes: NodeInfo[], pump: () => void): void {
    this.#inflight--
    if (!this.#cancelled) this.#take(nodes)
    pump()
  }

  #take(nodes: NodeInfo[]): void {
    const fresh: NodeInfo[] = []
    for (const n of nodes) {
      if (this.#seen.has(n.id)) continue
      this.#seen.add(n.id)
      this.#result.push(n)
      fresh.push(n)
    }
    if (fresh.length > 0) this.#d.onSeen?.(fresh)
  }
}
