/**
 * Non-cryptographic randomness as an injected dependency: jitter, random walks, shuffles.
 * Production uses `Math.random`; tests and the simulator pass {@link seededRandom} so the
 * same seed gives the same run. Keys, nonces and padding never come from here: they use
 * the system's cryptographic generator.
 * @module
 */

/** A source of numbers uniform in [0, 1). */
export type Random = () => number

/**
 * mulberry32: a small, fast, seeded generator with a period of 2^32, plenty for jitter
 * and walks. Not for secrets.
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** A uniformly chosen element of a non-empty array. */
export function pick<T>(items: readonly T[], random: Random): T {
  return items[Math.floor(random() * items.length)]!
}
