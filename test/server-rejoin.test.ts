// A node that knew its network rejoins it by itself: discovery's node database under the
// Server, over real UDP and TCP on loopback.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { Server, type ServerOptions } from '../lib/index.js'
import { idleProtocol } from './support/servers.js'
import { until } from './support/net.js'

const started: Server[] = []
const dirs: string[] = []

async function ours(options: Partial<ServerOptions> = {}): Promise<Server> {
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', protocols: [idleProtocol()], ...options })
  started.push(server)
  await server.start()
  return server
}


test.after.each(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()))
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

test('a restarted node with a node database rejoins the nodes it knew, with no bootnode', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'devp2p-nodedb-'))
  dirs.push(dir)
  const key = generatePrivateKey()
  const a = await ours({ privateKey: key, dataDir: dir })
  const b = await ours({ bootnodes: [a.enode] })
  await until('B to link to A', 10_000, () => a.peers.some((p) => p.id === b.id))
  await until('A to know B in its table', 10_000, () => a.discovery!.tableEntries().some((e) => e.node.id === b.id))
  await a.stop()
  started.splice(started.indexOf(a), 1)
  const again = await ours({ privateKey: key, dataDir: dir })
  const ms = await until('the restarted node to reconnect to B by itself', 20_000, () => again.peers.some((p) => p.id === b.id), 100)
  console.log(`# restarted node reconnected to a node it knew after ${ms} ms, with no bootnode`)
})

test.run()
