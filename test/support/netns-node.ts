// A discovery node run inside a network namespace by the netns test (`ip netns exec NS node
// --import tsx test/support/netns-node.ts '<options json>'`). It reports on stdout, one JSON
// object per line, and takes commands on stdin, one JSON object per line.
import { createInterface } from 'node:readline'
import { generatePrivateKey } from '../../lib/crypto/index.js'
import { Discovery } from '../../lib/discover/discovery.js'

const options = JSON.parse(process.argv[2] ?? '{}') as { host?: string; bootnodes?: string[] }
const say = (o: object): void => console.log(JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? v.toString() : v)))

const disc = new Discovery({
  privateKey: generatePrivateKey(),
  bind: { host: options.host ?? '0.0.0.0', port: 0 },
  bootnodes: options.bootnodes ?? [],
  revalidateInterval: 500,
  onWarning: (m) => say({ event: 'warning', message: m }),
})
disc.events.on('record', (r) => say({ event: 'record', enr: r.toString(), seq: r.seq, ip: r.ip, enode: disc.enode }))
await disc.start()
say({ event: 'ready', id: disc.id, enode: disc.enode, port: disc.address.port, advertised: disc.advertised, seq: disc.localRecord.seq })

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { cmd: string; host?: string; port?: number; node?: string }
  try {
    if (cmd.cmd === 'lookup') say({ event: 'lookup', nodes: (await disc.lookup()).map((n) => n.id) })
    else if (cmd.cmd === 'table') say({ event: 'table', nodes: disc.tableEntries().map((e) => ({ id: e.node.id, ip: e.node.ip, udp: e.node.udp })) })
    else if (cmd.cmd === 'ping') say({ event: 'pong', id: (await disc.ping(cmd.node!)).id })
    else if (cmd.cmd === 'resolve') {
      const r = await disc.resolveAddress(cmd.host!, cmd.port!)
      say({ event: 'resolved', id: r.enode.id, tcpPort: r.enode.tcpPort, tcpPortSource: r.tcpPortSource, trust: r.trust })
    } else if (cmd.cmd === 'quit') break
  } catch (err) {
    say({ event: 'error', code: (err as { code?: string }).code, message: (err as Error).message })
  }
}
await disc.stop()
