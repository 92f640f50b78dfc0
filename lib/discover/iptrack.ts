/**
 * Learns our externally visible address from what other nodes say they see (the `to` field of
 * their Pongs), as go-ethereum's `netutil.IPTracker` does: each remote host's latest
 * statement counts once, statements older than the window are forgotten, and an address is
 * predicted once enough distinct hosts agree on it.
 * @module
 */
import type { Clock } from '../clock.js'

/** Options of {@link IpTracker}. */
export interface IpTrackerOptions {
  clock: Clock
  /** How long a statement counts (ms). @default 300000 (geth: 5 min) */
  window?: number
  /** Distinct hosts that must agree. @default 2 (geth: 10; see the README) */
  minStatements?: number
  /** Hosts whose statements are kept; the oldest beyond this are dropped. @default 256 */
  maxHosts?: number
}

interface Statement {
  ip: string
  port: number
  time: number
}

/** The prediction: an IP and, when enough hosts agree on it too, a port. */
export interface PredictedEndpoint {
  ip: string
  port?: number
}

/** See the module comment. */
export class IpTracker {
  readonly #clock: Clock
  readonly #window: number
  readonly #min: number
  readonly #maxHosts: number
  readonly #statements = new Map<string, Statement>()

  constructor(options: IpTrackerOptions) {
    this.#clock = options.clock
    this.#window = options.window ?? 300_000
    this.#min = options.minStatements ?? 2
    this.#maxHosts = options.maxHosts ?? 256
  }

  /** Records that `host` (a remote IP) sees us at `ip:port`. */
  addStatement(host: string, ip: string, port: number): void {
    this.#statements.delete(host)
    this.#statements.set(host, { ip, port, time: this.#clock.now() })
    if (this.#statements.size > this.#maxHosts) this.#statements.delete(this.#statements.keys().next().value!)
  }

  /** The IP most hosts agree on (at least `minStatements` of them), with their port if they agree on one. */
  predict(): PredictedEndpoint | undefined {
    const cutoff = this.#clock.now() - this.#window
    const byIp = new Map<string, Statement[]>()
    for (const [host, s] of this.#statements) {
      if (s.time < cutoff) {
        this.#statements.delete(host)
        continue
      }
      const list = byIp.get(s.ip) ?? []
      list.push(s)
      byIp.set(s.ip, list)
    }
    let best: Statement[] | undefined
    for (const list of byIp.values()) if (list.length >= this.#min && list.length > (best?.length ?? 0)) best = list
    if (!best) return undefined
    const ports = new Map<number, number>()
    for (const s of best) ports.set(s.port, (ports.get(s.port) ?? 0) + 1)
    const [port, count] = [...ports].sort((a, b) => b[1] - a[1])[0]!
    return count >= this.#min ? { ip: best[0]!.ip, port } : { ip: best[0]!.ip }
  }
}
