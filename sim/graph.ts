/**
 * Figures of an undirected graph: degrees, connected components, shortest-path lengths.
 * Vertices are 0..n−1; the adjacency is kept in compressed form (CSR), so breadth-first
 * searches from every vertex of a 10,000-node mesh take seconds, not minutes.
 * @module
 */

/** An undirected graph in compressed sparse row form. */
export class Graph {
  /** `neighbours` of vertex v are `adjacency[offsets[v] .. offsets[v + 1]]`. */
  readonly offsets: Int32Array
  readonly adjacency: Int32Array

  /** @param edges each undirected edge once, as [a, b] with a ≠ b */
  constructor(
    readonly n: number,
    readonly edges: readonly (readonly [number, number])[],
  ) {
    const degree = new Int32Array(n)
    for (const [a, b] of edges) {
      degree[a]!++
      degree[b]!++
    }
    this.offsets = new Int32Array(n + 1)
    for (let v = 0; v < n; v++) this.offsets[v + 1] = this.offsets[v]! + degree[v]!
    this.adjacency = new Int32Array(this.offsets[n]!)
    const fill = this.offsets.slice(0, n)
    for (const [a, b] of edges) {
      this.adjacency[fill[a]!++] = b
      this.adjacency[fill[b]!++] = a
    }
  }

  degree(v: number): number {
    return this.offsets[v + 1]! - this.offsets[v]!
  }

  /** Sizes of the connected components, largest first. */
  components(): number[] {
    const dist = new Int32Array(this.n).fill(-1)
    const queue = new Int32Array(this.n)
    const sizes: number[] = []
    for (let s = 0; s < this.n; s++) if (dist[s]! < 0) sizes.push(this.#spread(s, dist, queue))
    return sizes.sort((a, b) => b - a)
  }

  /**
   * Hop distances from `source` (−1 where unreachable), written into `dist`.
   * @returns the number of vertices reached, the source included
   */
  bfs(source: number, dist: Int32Array, queue: Int32Array = new Int32Array(this.n)): number {
    dist.fill(-1)
    return this.#spread(source, dist, queue)
  }

  /** Breadth-first from `source` over the vertices `dist` marks unseen (−1); returns how many it reached. */
  #spread(source: number, dist: Int32Array, queue: Int32Array): number {
    dist[source] = 0
    let head = 0
    let tail = 0
    queue[tail++] = source
    while (head < tail) {
      const v = queue[head++]!
      const d = dist[v]! + 1
      for (let i = this.offsets[v]!; i < this.offsets[v + 1]!; i++) {
        const w = this.adjacency[i]!
        if (dist[w]! < 0) {
          dist[w] = d
          queue[tail++] = w
        }
      }
    }
    return tail
  }

  /**
   * Shortest-path lengths between every pair of connected vertices: their mean, the
   * diameter (the longest), and how many pairs lie at each distance.
   */
  pathLengths(): { mean: number; max: number; histogram: number[] } {
    const dist = new Int32Array(this.n)
    const queue = new Int32Array(this.n)
    const histogram: number[] = []
    let sum = 0
    let pairs = 0
    for (let s = 0; s < this.n; s++) {
      this.bfs(s, dist, queue)
      for (let v = 0; v < this.n; v++) {
        const d = dist[v]!
        if (d <= 0) continue
        histogram[d] = (histogram[d] ?? 0) + 1
        sum += d
        pairs++
      }
    }
    for (let d = 0; d < histogram.length; d++) histogram[d] ??= 0
    return { mean: pairs === 0 ? 0 : sum / pairs, max: histogram.length - 1, histogram }
  }
}

/** Mean, variance, min, max and the histogram (index = value) of integer samples. */
export function summary(values: readonly number[]): { mean: number; variance: number; min: number; max: number; histogram: number[] } {
  const n = values.length
  if (n === 0) return { mean: 0, variance: 0, min: 0, max: 0, histogram: [] }
  let sum = 0
  let min = Infinity
  let max = -Infinity
  for (const v of values) {
    sum += v
    if (v < min) min = v
    if (v > max) max = v
  }
  const mean = sum / n
  let sq = 0
  for (const v of values) sq += (v - mean) ** 2
  const histogram = new Array<number>(max + 1).fill(0)
  for (const v of values) histogram[v]!++
  return { mean, variance: sq / n, min, max, histogram }
}

/** The p-quantile (0..1) of sorted samples, or null when there are none. */
export function quantile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

/** Rounds to `digits` decimals, so the JSON does not carry float noise. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
