/**
 * The node under test for part `backlog` (see `backlog.ts`): a floodnet node in a process of
 * its own, so that its memory figures are its own. It reads every delivery, as an
 * application would, and answers `base`/`report` over IPC.
 * @module
 */
import { generatePrivateKey, Server } from '../lib/index.js'
import { Floodnet } from '../protocols/floodnet/index.js'

/** What the child reports. */
export interface BacklogReport {
  /** Growth since `base`, after a full GC: external (Buffers) and resident memory, bytes. */
  external: number
  rss: number
  peakRss: number
  peers: number
  sendBacklogDrops: number
  /** Bytes queued per neighbour at the end: the server's write backlog. */
  writeBacklogs: number[]
}

const gc = (globalThis as { gc?: () => void }).gc!
const net = new Floodnet({ desired: 20 })
const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, maxPeers: 50, protocols: [net.protocol] })
net.attach(server)
await server.start()
net.start()
void (async () => {
  for await (const delivery of net) void delivery
})()
let base = process.memoryUsage()
let peak = 0
setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50).unref()
process.on('message', (m: string) => {
  gc()
  const now = process.memoryUsage()
  if (m === 'base') {
    base = now
    peak = now.rss
    process.send!('ok')
  } else if (m === 'report') {
    const report: BacklogReport = {
      // `external` includes `arrayBuffers` (every Buffer): adding both counted Buffers twice.
      external: now.external - base.external,
      rss: now.rss - base.rss,
      peakRss: peak - base.rss,
      peers: server.peerCount,
      sendBacklogDrops: net.engine.stats.dropped['send-backlog'],
      writeBacklogs: server.peers.map((p) => p.writeBacklog),
    }
    process.send!(report)
  }
})
process.send!({ enode: server.enode })
