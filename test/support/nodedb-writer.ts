// Child process of the kill -9 test: writes the node database in a loop, one node more per
// write, and prints "flushed N" once each write is on disk.
import { generatePrivateKey, publicKeyOf } from '../../lib/crypto/index.js'
import { Enr } from '../../lib/enr.js'
import { makeNode } from '../../lib/discover/node.js'
import { NodeDB } from '../../lib/discover/nodedb.js'

const dir = process.argv[2]!
const db = await NodeDB.open(dir, { maxNodes: 100_000, onWarning: (m) => console.log(`WARNING ${m}`) })
// padding nodes make each write large enough to be caught in the middle
const key = generatePrivateKey()
const record = Enr.create(key, 1, { ip: '10.0.0.1', udp: 30303, tcp: 30303 })
for (let i = 0; i < 300; i++) db.updateLastPongReceived(makeNode(publicKeyOf(generatePrivateKey()), `10.1.${i >> 8}.${i & 255}`, 30303, 30303), Date.now())
for (let n = 1; ; n++) {
  db.learn(`10.9.${n >> 8}.${n & 255}:30303`, makeNode(record.publicKey, '10.0.0.1', 1, 1).id)
  db.updateLastPongReceived(makeNode(publicKeyOf(key), '10.0.0.1', 30303, 30303, record), Date.now())
  await db.flush()
  console.log(`flushed ${n}`)
}
