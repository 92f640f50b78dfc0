// Bad input from the network: a node running floodnet and chat takes hundreds of random
// messages (random codes, random bytes, random RLP shapes) from raw peers that passed the
// handshake, and a well-behaved peer's session on the same node carries on untouched.
// Random items are kept shorter than 60 bytes so that nothing decodes as a JOIN_REQ with a
// 64-byte key: the node must never be made to dial anywhere.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP, type Input } from '@ethereumjs/rlp'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { Server } from '../lib/server.js'
import { Chat } from '../protocols/chat/index.js'
import { Floodnet } from '../protocols/floodnet/index.js'
import { waitFor, within } from './support/net.js'
import { seededRandom as mulberry32 } from '../lib/random.js'
import { cleanup, QUICK, rawDial } from './support/servers.js'

test.after.each(cleanup)

function bytes(random: () => number, max: number): Buffer {
  return Buffer.from(Array.from({ length: Math.floor(random() * max) }, () => Math.floor(random() * 256)))
}

/** A random RLP value: byte strings shorter than 60 bytes, lists up to depth 3. */
function junkItem(random: () => number, depth = 0): Input {
  if (depth < 3 && random() < 0.4) return Array.from({ length: Math.floor(random() * 6) }, () => junkItem(random, depth + 1))
  return bytes(random, 60)
}

/** Raw bytes half the time, well-formed RLP of a random shape the other half. */
function junkPayload(random: () => number): Uint8Array {
  return random() < 0.5 ? bytes(random, 300) : RLP.encode(junkItem(random))
}

interface ChatNode {
  server: Server
  chat: Chat
  heard: string[]
}

async function chatNode(name: string): Promise<ChatNode> {
  const privateKey = generatePrivateKey()
  const net = new Floodnet({ joinBackoff: [1000, 5000] })
  const chat = new Chat({ privateKey, nick: name })
  const server = new Server({ privateKey, name, listenAddr: '127.0.0.1:0', discovery: false, maxPeers: 50, protocols: [net.protocol, chat.protocol] })
  net.attach(server)
  chat.attach(server)
  const heard: string[] = []
  chat.events.on('message', (m) => heard.push(m.text))
  await server.start()
  return { server, chat, heard }
}

test('hundreds of random messages from handshaken peers end only their own sessions', async () => {
  const random = mulberry32(0x5eed)
  const target = await chatNode('target')
  const good = await chatNode('good')
  try {
    const goodPeer = await within(good.server.connect(target.server.enode), QUICK, 'the good peer to connect')
    good.chat.send('before')
    await waitFor(() => target.heard.includes('before'), QUICK, 'the first chat line')

    const caps = [{ name: 'chat', version: 1 }, { name: 'floodnet', version: 1 }]
    let sent = 0
    let dropped = 0
    for (let round = 0; round < 40; round++) {
      const raw = await rawDial(target.server, { hello: { caps } })
      await within(raw.hello, QUICK, "the target's Hello")
      for (let i = 0; i < 10; i++) {
        // Codes 0x00-0x14: the base protocol, its unassigned codes, chat (0x10) and
        // floodnet (0x11-0x12), and one past every protocol.
        raw.conn.send(Math.floor(random() * 0x14), junkPayload(random))
        sent++
      }
      const ended = await Promise.race([raw.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 200))])
      if (ended) dropped++
      raw.socket.destroy()
    }
    assert.is(sent, 400)
    assert.ok(dropped >= 30, `most junk sessions are ended by the target (${dropped} of 40)`)
    assert.ok(target.server.running, 'the target is still running')
    assert.ok(!goodPeer.closed, "the good peer's session was not touched")
    assert.is(target.server.peer(good.server.id)?.closed, false)
    good.chat.send('after')
    await waitFor(() => target.heard.includes('after'), QUICK, 'a chat line after the junk')
    assert.equal(target.heard, ['before', 'after'], 'no junk was delivered as chat')
  } finally {
    await Promise.all([good.server.stop(), target.server.stop()])
  }
})

test.run()
