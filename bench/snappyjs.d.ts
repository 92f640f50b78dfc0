/** Types for `snappyjs` (pure-JS snappy, what @ethereumjs/devp2p uses), which ships none. */
declare module 'snappyjs' {
  /** Compresses to the snappy block format; returns the same kind of buffer it was given. */
  export function compress<T extends Uint8Array | ArrayBuffer>(input: T): T
  /** Decompresses a snappy block; `maxLength` rejects larger declared lengths. */
  export function uncompress<T extends Uint8Array | ArrayBuffer>(input: T, maxLength?: number): T
}
