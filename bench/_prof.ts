import { randomBytes } from 'node:crypto'
import { FrameReader, FrameWriter } from '../lib/rlpx/frames.js'
import { sessionSecrets } from './frames.js'
const [a, b] = sessionSecrets()
const w = new FrameWriter(a), r = new FrameReader(b)
const p = randomBytes(100), id = Buffer.from([0x10])
const N = +(process.argv[2] ?? 300000)
const t = performance.now()
for (let i = 0; i < N; i++) { for (const c of w.encode([id, p])) r.push(c); r.next() }
console.log(((performance.now() - t) / N * 1000).toFixed(2), 'µs/msg')
