// Discovery against @ethereumjs/devp2p's DPT over real UDP on loopback, both directions.
// DPT knows no ENRRequest, answers FindNode without a bond and sends Neighbours as one
// packet; none of that may stop the two from finding each other.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DPT } from '@ethereumjs/devp2p'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { Discovery } from '../lib/discover/discovery.js'
import { waitFor } from './support/net.js'

interface EjsNode {
  dpt: DPT
  port: number
  publicKey: string
  enode: string
}

const dpts: EjsNode[] = []
const ours: Discovery[] = []

async function startDpt(): Promise<EjsNode> {
  const key = generatePrivateKey()
  const dpt = new DPT(key, { refreshInterval: 2000, timeout: 1000, endpoint: { address: '127.0.0.1', udpPort: null, tcpPort: null } })
  // DPT reports timeouts and its own teardown as 'error' events
  dpt.events.on('error', () => {})
  await new Promise<void>((resolve) => {
    dpt.events.once('listening', () => resolve())
    dpt.bind(0, '127.0.0.1')
  })
  // DPT has no accessor for its bound port; its socket is the one place that knows it
  const port = (dpt as unknown as { _server: { _socket: { address(): { port: number } } } })._server._socket.address().port
  // so that its Pings name a real UDP port (it advertises none by default)
  Object.assign((dpt as unknown as { _server: { _endpoint: object } })._server, { _endpoint: { address: '127.0.0.1', udpPort: port, tcpPort: port } })
  const publicKey = publicKeyOf(key).toString('hex')
  const node = { dpt, port, publicKey, enode: `enode://${publicKey}@127.0.0.1:${port}` }
  dpts.push(node)
  return node
}

async function startOurs(bootnodes: string[]): Promise<Discovery> {
  const d = new Discovery({ privateKey: generatePrivateKey(), bind: { host: '127.0.0.1', port: 0 }, bootnodes, revalidateInterval: 500 })
  await d.start()
  ours.push(d)
  return d
}

const dptPeers = (n: EjsNode): string[] => n.dpt.getPeers().map((p) => Buffer.from(p.id!).toString('hex'))

test('we discover DPT: bootstrapping from one DPT node, our lookups find the DPT node it knows', async () => {
  const a = await startDpt()
  const b = await startDpt()
  await b.dpt.bootstrap({ address: '127.0.0.1', udpPort: a.port })
  await waitFor(() => dptPeers(a).includes(b.publicKey), 5000, 'the two DPT nodes to know each other')
  const node = await startOurs([a.enode])
  const keys = (): string[] => node.tableEntries().map((e) => e.node.publicKey.toString('hex'))
  const start = Date.now()
  while (!(keys().includes(a.publicKey) && keys().includes(b.publicKey))) {
    if (Date.now() - start > 15_000) assert.unreachable(`our table holds ${keys().length} nodes, not both DPT nodes`)
    await node.lookup()
  }
  const entry = node.tableEntries().find((e) => e.node.publicKey.toString('hex') === b.publicKey)!.node
  assert.is(entry.udp, b.port)
})

test('DPT discovers us: a DPT node bootstrapped from ours learns us and, through our Neighbours, the others', async () => {
  const boot = await startOurs([])
  const other = await startOurs([boot.enode])
  await other.lookup()
  // our answers prefer nodes that passed revalidation (as geth's do)
  await waitFor(() => boot.tableEntries().some((e) => e.node.id === other.id && e.livenessChecks > 0), 10_000, 'our bootnode to revalidate the other node')
  const c = await startDpt()
  await c.dpt.bootstrap({ address: '127.0.0.1', udpPort: boot.address.port })
  await waitFor(() => dptPeers(c).includes(boot.publicKey.toString('hex')), 5000, 'DPT to add our node')
  await waitFor(() => dptPeers(c).includes(other.publicKey.toString('hex')), 15_000, 'DPT to find our other node through our Neighbours')
})

test.after(async () => {
  for (const d of dpts) d.dpt.destroy()
  await Promise.all(ours.map((d) => d.stop()))
})

test.run()
