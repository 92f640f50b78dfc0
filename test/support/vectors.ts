import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The published known-answer vectors shared with the project in ../shared. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const vectors: any = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../shared/devp2p-vectors.json', import.meta.url)), 'utf8'),
)

export const hex = (s: string): Buffer => Buffer.from(s, 'hex')
