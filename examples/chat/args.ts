/**
 * The chat node's command line, parsed and checked before anything starts: a bad value is a
 * {@link UsageError} with a one-line message, which the node prints before exiting with 2.
 * @module
 */
import { isIP } from 'node:net'
import { parseArgs } from 'node:util'
import { parseEnode, parseHostPort } from '../../lib/index.js'
import { checkNick } from '../../protocols/chat/index.js'

/** A command-line mistake; the message is one line and says what to change. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** The checked options. */
export interface CliOptions {
  /** `undefined`: the first free port from 55555 up. */
  port: number | undefined
  host: string
  /** `enode://` URLs, `enr:` records or `host:port`, as given. */
  bootnodes: string[]
  nodekey: string | undefined
  /** Run discovery (find and remember nodes, connect by address). */
  discovery: boolean
  /** The IP to advertise (a NAT's public address). */
  extip: string | undefined
  nick: string | undefined
  desired: number
  maxPeers: number
  json: boolean
  presenceInterval: number | undefined
  receiptTimeout: number | undefined
  help: boolean
}

export const HELP = `usage: npm run chat -- [options]    (installed: devp2p-chat [options])

  --port N                TCP port (default: the first free port from 55555 up; 0 = any)
  --host ADDR             address to listen on and to announce (default 127.0.0.1)
  --bootnode NODE         node to join through: host:port, an enode:// URL or an enr: record;
                          repeat for several
  --nodekey FILE          node key file, created on first run (default .chat/node-<port>.key)
  --no-discovery          no discv4: no finding nodes, no connecting by host:port
  --extip ADDR            the IP to advertise to others (a NAT's public address)
  --nick NAME             your nick, 1–32 bytes without spaces (default user-<first 4 hex of your id>)
  --desired N             floodnet neighbours to keep (default 5)
  --max-peers N           most peers at once (default 25)
  --json                  one JSON object per event on stdout; logs stay on stderr
  --presence-interval MS  presence refresh period (default 300000; members silent for
                          3 periods are shown as gone — shorten it for tests)
  --receipt-timeout MS    how long a direct message waits for its receipt (default 30000)
  --help                  this text

Type /help in the chat for the commands.`

function integer(name: string, value: string, min: number, max: number): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
  return n
}

/** @throws {UsageError} naming the option at fault */
export function parseCli(argv: string[]): CliOptions {
  let values
  try {
    values = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        bootnode: { type: 'string', multiple: true, default: [] },
        nodekey: { type: 'string' },
        'no-discovery': { type: 'boolean', default: false },
        extip: { type: 'string' },
        nick: { type: 'string' },
        desired: { type: 'string', default: '5' },
        'max-peers': { type: 'string', default: '25' },
        json: { type: 'boolean', default: false },
        'presence-interval': { type: 'string' },
        'receipt-timeout': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!)
  }
  const discovery = !values['no-discovery']
  for (const [i, url] of values.bootnode.entries()) {
    const which = `--bootnode ${values.bootnode.length > 1 ? `#${i + 1} ` : ''}`
    if (parseHostPort(url)) {
      if (!discovery) throw new UsageError(`${which}${url} is an address: connecting by address needs discovery; drop --no-discovery or give its enode URL`)
      continue
    }
    try {
      parseEnode(url)
    } catch (err) {
      throw new UsageError(`${which}is not usable: ${(err as Error).message}; give host:port, an enode:// URL or an enr: record`)
    }
  }
  if (values.extip !== undefined && isIP(values.extip) === 0) throw new UsageError(`--extip must be an IP address, got ${JSON.stringify(values.extip)}`)
  if (values.nick !== undefined) {
    try {
      checkNick(values.nick)
    } catch (err) {
      throw new UsageError(`--nick: ${(err as Error).message}`)
    }
  }
  return {
    port: values.port === undefined ? undefined : integer('port', values.port, 0, 65535),
    host: values.host,
    bootnodes: values.bootnode,
    nodekey: values.nodekey,
    discovery,
    extip: values.extip,
    nick: values.nick,
    desired: integer('desired', values.desired, 1, 64),
    maxPeers: integer('max-peers', values['max-peers'], 1, 1000),
    json: values.json,
    presenceInterval: values['presence-interval'] === undefined ? undefined : integer('presence-interval', values['presence-interval'], 1000, 86_400_000),
    receiptTimeout: values['receipt-timeout'] === undefined ? undefined : integer('receipt-timeout', values['receipt-timeout'], 100, 3_600_000),
    help: values.help,
  }
}
