#!/usr/bin/env node
/**
 * A chat node for a person at a terminal: floodnet for the overlay, chat/1 for signed
 * messages. Run `npm run chat -- --help`.
 */
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generatePrivateKey, loadOrCreateNodeKey, reasonText, Server, type Peer } from '../lib/index.js'
import { Chat, type ChatMessage } from '../protocols/chat/index.js'
import { Floodnet } from '../protocols/floodnet/index.js'

const HELP = `usage: npm run chat -- [options]    (installed: devp2p-chat [options])

  --port N          TCP port (default: the first free port from 55555 up; 0 = any)
  --host ADDR       address to listen on and to announce (default 127.0.0.1)
  --bootnode URL    enode URL to join through; repeat for several
  --nodekey FILE    node key file, created on first run (default .chat/node-<port>.key)
  --nick NAME       your nick (default user-<first 4 hex of your id>)
  --desired N       floodnet neighbours to keep (default 5)
  --max-peers N     most peers at once (default 25)
  --json            one JSON object per event on stdout; logs stay on stderr
  --help            this text

commands: plain text is sent to everyone; /connect <enode>, /peers,
/msg <nick|id> <text>, /nick <name>, /quit (or exit, quit)`

const COMMANDS = 'commands: /connect <enode>, /peers, /msg <nick|id> <text>, /nick <name>, /quit — anything else is sent to everyone'

let args: ReturnType<typeof parse>
function parse() {
  return parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      bootnode: { type: 'string', multiple: true, default: [] },
      nodekey: { type: 'string' },
      nick: { type: 'string' },
      desired: { type: 'string', default: '5' },
      'max-peers': { type: 'string', default: '25' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }).values
}
try {
  args = parse()
} catch (err) {
  console.error(`${(err as Error).message}\n\n${HELP}`)
  process.exit(2)
}
if (args.help) {
  console.log(HELP)
  process.exit(0)
}

const json = args.json
/** One event: a JSON line with --json, a human line otherwise. Logs never go to stdout. */
function emit(event: Record<string, unknown>, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(event)}\n` : `${human}\n`)
}
function fail(message: string): void {
  emit({ type: 'error', message }, `! ${message}`)
}

function intArg(name: string, value: string, min: number, max: number): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
    process.exit(2)
  }
  return n
}

/** Resolves --port: as given, or the first port from 55555 up that is free on --host. */
async function choosePort(host: string): Promise<number> {
  if (args.port !== undefined) return intArg('port', args.port, 0, 65535)
  for (let port = 55555; port < 55655; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer()
      probe.once('error', () => resolve(false))
      probe.listen(port, host, () => probe.close(() => resolve(true)))
    })
    if (free) return port
  }
  console.error('no free port between 55555 and 55654; pass --port')
  process.exit(2)
}

const host = args.host
const port = await choosePort(host)
const desired = intArg('desired', args.desired, 1, 64)
const maxPeers = intArg('max-peers', args['max-peers'], 1, 1000)
let privateKey: Buffer
if (args.nodekey === undefined && port === 0) {
  privateKey = generatePrivateKey()
  console.error('note: --port 0 without --nodekey uses a fresh identity that is not saved')
} else {
  const file = args.nodekey ?? join('.chat', `node-${port}.key`)
  try {
    privateKey = loadOrCreateNodeKey(file)
  } catch (err) {
    console.error((err as Error).message)
    process.exit(2)
  }
}

const net = new Floodnet({ desired, bootnodes: args.bootnode })
const chat = new Chat({ privateKey })
const server = new Server({
  privateKey,
  name: 'devp2p-ts chat',
  listenAddr: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
  maxPeers,
  protocols: [net.protocol, chat.protocol],
})
net.attach(server)
chat.attach(server)
chat.nick = args.nick ?? `user-${server.id.slice(0, 4)}`

/** A nick as shown: with a short id when another known node uses the same nick. */
function who(id: string, nick: string): string {
  const clash = chat.contacts.some((c) => c.nick === nick && c.id !== id) || (nick === chat.nick && id !== server.id)
  return clash ? `${nick}#${id.slice(0, 6)}` : nick
}

chat.events.on('message', (m: ChatMessage) => emit({ type: 'message', from: m.origin, nick: m.nick, text: m.text }, `${who(m.origin, m.nick)}: ${m.text}`))
chat.events.on('direct', (m: ChatMessage) => emit({ type: 'direct', from: m.origin, nick: m.nick, text: m.text }, `[direct] ${who(m.origin, m.nick)}: ${m.text}`))
server.events.on('peer:added', (p: Peer) => emit({ type: 'peer', event: 'added', id: p.id, address: p.remoteAddress }, `* ${p.id.slice(0, 8)} joined (${p.remoteAddress})`))
server.events.on('peer:removed', ({ peer, reason, remote }) =>
  emit({ type: 'peer', event: 'removed', id: peer.id, reason: reasonText(reason), remote }, `* ${peer.id.slice(0, 8)} left (${reasonText(reason)}${remote ? '' : ', by us'})`),
)
server.events.on('error', (err) => console.error(`server error: ${err.message}`))

try {
  await server.start()
} catch (err) {
  console.error(`cannot listen on ${host}:${port}: ${(err as Error).message}`)
  process.exit(1)
}
net.start()
emit({ type: 'ready', enode: server.enode, id: server.id, nick: chat.nick }, `Your enode (give it to others as --bootnode):\n${server.enode}\nYou are ${chat.nick}. ${COMMANDS}`)

function peers(): void {
  const list = server.peers.map((p) => ({ id: p.id, nick: chat.contacts.find((c) => c.id === p.id)?.nick ?? null, address: p.remoteAddress }))
  emit({ type: 'peers', peers: list }, list.length === 0 ? '* no peers' : list.map((p) => `* ${p.id.slice(0, 8)} ${p.nick ?? '?'} ${p.address}`).join('\n'))
}

function command(line: string): boolean {
  const text = line.trim()
  if (text === '') return true
  if (text === 'exit' || text === 'quit' || text === '/quit') return false
  if (!text.startsWith('/')) {
    try {
      chat.send(text)
    } catch (err) {
      fail((err as Error).message)
    }
    return true
  }
  const [cmd, ...rest] = text.split(/\s+/)
  try {
    switch (cmd) {
      case '/connect':
        if (rest.length !== 1) throw new Error('usage: /connect enode://<key>@<host>:<port>')
        server.connect(rest[0]!).catch((err: Error) => fail(`connect failed: ${err.message}`))
        break
      case '/peers':
        peers()
        break
      case '/msg': {
        // Split by position, not by searching for the target: a target that also occurs in
        // "/msg" itself (nick "msg", "s", "m") would cut the text in the wrong place.
        const parts = /^\/msg\s+(\S+)\s+(.+)$/s.exec(text)
        if (!parts) throw new Error('usage: /msg <nick|id> <text>')
        chat.sendDirect(parts[1]!, parts[2]!)
        break
      }
      case '/nick':
        if (rest.length !== 1) throw new Error('usage: /nick <name>')
        chat.nick = rest[0]!
        emit({ type: 'nick', nick: chat.nick }, `* you are now ${chat.nick}`)
        break
      default:
        emit({ type: 'help', text: COMMANDS }, COMMANDS)
    }
  } catch (err) {
    fail((err as Error).message)
  }
  return true
}

let stopping = false
async function shutdown(): Promise<void> {
  if (stopping) return
  stopping = true
  net.stop()
  chat.stop()
  await server.stop()
  process.exit(0)
}

const input = createInterface({ input: process.stdin, terminal: false })
input.on('line', (line) => {
  if (!command(line)) void shutdown()
})
input.on('close', () => void shutdown())
process.on('SIGINT', () => void shutdown())
process.on('SIGTERM', () => void shutdown())
