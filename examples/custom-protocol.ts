/**
 * A sub-protocol with several message codes and a typed map from code to payload, so that
 * both sending and decoding are checked by the compiler. Run with `npm run example:custom`.
 *
 * greeter/1: the dialler says HELLO(name); the listener answers WELCOME(text, visitor
 * number); the dialler says BYE(reason) and returns, which ends the session.
 */
import { generatePrivateKey, MessageDecodeError, sendItems, Server, uint, utf8, type MsgReadWriter, type Protocol, type RlpItem } from '../lib/index.js'

/** Message codes of greeter/1 and the payload each carries. */
interface GreeterMessages {
  0: { name: string }
  1: { text: string; visitor: number }
  2: { reason: string }
}
type Code = keyof GreeterMessages
const HELLO = 0, WELCOME = 1, BYE = 2

/** One encoder and one decoder per code; the compiler checks they agree with the map. */
const codec: { [C in Code]: { encode(m: GreeterMessages[C]): (string | number)[]; decode(items: RlpItem[]): GreeterMessages[C] } } = {
  0: { encode: (m) => [m.name], decode: ([name]) => ({ name: utf8(name) }) },
  1: { encode: (m) => [m.text, m.visitor], decode: ([text, visitor]) => ({ text: utf8(text), visitor: uint(visitor) }) },
  2: { encode: (m) => [m.reason], decode: ([reason]) => ({ reason: utf8(reason) }) },
}

function send<C extends Code>(rw: MsgReadWriter, code: C, message: GreeterMessages[C]): Promise<void> {
  return sendItems(rw, code, ...codec[code].encode(message))
}

/** Reads the next message, which must have code `code`. */
async function expect<C extends Code>(rw: MsgReadWriter, code: C): Promise<GreeterMessages[C]> {
  const msg = await rw.readMsg()
  if (msg.code !== code) throw new MessageDecodeError(`expected message ${code}, got ${msg.code}`)
  return codec[code].decode(msg.decode())
}

let visitors = 0
let done: () => void
const finished = new Promise<void>((resolve) => (done = resolve))

const Greeter: Protocol = {
  name: 'greeter',
  version: 1,
  length: 3,
  async run(peer, rw) {
    if (!peer.inbound) {
      await send(rw, HELLO, { name: 'alice' })
      const welcome = await expect(rw, WELCOME)
      console.log(`alice got: "${welcome.text}" (visitor #${welcome.visitor})`)
      await send(rw, BYE, { reason: 'just passing through' })
      done()
      return
    }
    const hello = await expect(rw, HELLO)
    await send(rw, WELCOME, { text: `welcome, ${hello.name}`, visitor: ++visitors })
    const bye = await expect(rw, BYE)
    console.log(`bob got: bye ("${bye.reason}")`)
  },
}

const options = { listenAddr: '127.0.0.1:0', protocols: [Greeter] }
const alice = new Server({ ...options, privateKey: generatePrivateKey(), name: 'alice' })
const bob = new Server({ ...options, privateKey: generatePrivateKey(), name: 'bob' })
await Promise.all([alice.start(), bob.start()])
const bobSawEnd = new Promise<void>((resolve) => bob.events.once('peer:removed', () => resolve()))
await alice.connect(bob.enode)
await finished
await bobSawEnd
await Promise.all([alice.stop(), bob.stop()])
