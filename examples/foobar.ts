/**
 * The classic: two servers on loopback. The one that dials sends "foo", the other answers
 * "bar", the first prints `recv: bar`, and both stop. Run with `npm run example:foobar`.
 */
import { generatePrivateKey, sendItems, Server, utf8, type Protocol } from '../lib/index.js'

let gotBar: () => void
const done = new Promise<void>((resolve) => (gotBar = resolve))

const MyProtocol: Protocol = {
  name: 'MyProtocol',
  version: 1,
  length: 1,
  async run(peer, rw) {
    if (!peer.inbound) await sendItems(rw, 0, 'foo')
    for await (const msg of rw) {
      const [text] = msg.decode()
      if (utf8(text) === 'foo') {
        await sendItems(rw, 0, 'bar')
      } else {
        console.log('recv:', utf8(text))
        gotBar()
      }
    }
  },
}

const options = { maxPeers: 10, listenAddr: '127.0.0.1:0', protocols: [MyProtocol] }
const alice = new Server({ ...options, privateKey: generatePrivateKey(), name: 'alice' })
const bob = new Server({ ...options, privateKey: generatePrivateKey(), name: 'bob' })
await Promise.all([alice.start(), bob.start()])

await alice.connect(bob.enode)
await done
await Promise.all([alice.stop(), bob.stop()])
