/**
 * A chat room over python-p2p-network's wire, written with `cheesechain/p2p`
 * (source document 002). It talks to `chat.py`, the same program written with
 * the Python library, in both directions: start either one, connect the
 * other to it, and type.
 *
 *   node dist/examples/chat/chat.js --name alice --port 10001
 *   node dist/examples/chat/chat.js --name bob --port 10002 --connect 127.0.0.1:10001
 *   python3 examples/chat/chat.py carol 10003 127.0.0.1:10001
 *
 * Each line typed is sent to every connected node as the JSON message
 * `{"chat": "<text>", "from": "<name>"}`; a line starting with `/` is a
 * command: `/connect host:port`, `/peers`, `/quit`. Messages that arrive are
 * printed as `<from>: <text>`, and joins and departures as `* ...` lines.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Node, type NodeConnection, type NodeMessage } from 'cheesechain/p2p';

/** The one message this chat sends: python's `send_to_nodes({"chat": ..., "from": ...})`. */
type ChatLine = { chat: string; from: string };

function isChatLine(data: NodeMessage): data is ChatLine {
  return typeof data === 'object' && data !== null && !Array.isArray(data) && typeof data['chat'] === 'string' && typeof data['from'] === 'string';
}

/** A node that prints what happens in the room; everything else is the library's. */
class ChatNode extends Node {
  protected override inboundNodeConnected(node: NodeConnection): void {
    console.log(`* ${node.id} joined (${node.host}:${node.port})`);
    super.inboundNodeConnected(node);
  }

  protected override outboundNodeConnected(node: NodeConnection): void {
    console.log(`* connected to ${node.id} (${node.host}:${node.port})`);
    super.outboundNodeConnected(node);
  }

  protected override inboundNodeDisconnected(node: NodeConnection): void {
    console.log(`* ${node.id} left`);
    super.inboundNodeDisconnected(node);
  }

  protected override outboundNodeDisconnected(node: NodeConnection): void {
    console.log(`* ${node.id} left`);
    super.outboundNodeDisconnected(node);
  }

  protected override nodeMessage(node: NodeConnection, data: NodeMessage): void {
    if (isChatLine(data)) console.log(`${data.from}: ${data.chat}`);
    else console.log(`* ${node.id} sent something that is not a chat line: ${JSON.stringify(data).slice(0, 200)}`);
    super.nodeMessage(node, data);
  }
}

/** `host:port` → its parts. @throws Error naming the bad value. */
function hostPort(text: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65_535) throw new Error(`expected host:port, got ${JSON.stringify(text)}`);
  return { host: m[1]!, port };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs({
      options: {
        name: { type: 'string', default: `chat-${process.pid}` },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '0' },
        connect: { type: 'string', multiple: true, default: [] },
        debug: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`chat: ${(err as Error).message}`);
    return 2;
  }
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`chat: --port must be 0 to 65535, got ${options.port}`);
    return 2;
  }
  let peers: { host: string; port: number }[];
  try {
    peers = options.connect.map(hostPort);
  } catch (err) {
    console.error(`chat: --connect: ${(err as Error).message}`);
    return 2;
  }
  const node = new ChatNode({ id: options.name, host: options.host, port, debug: options.debug });
  await node.start();
  console.log(`* ${node.id} listening on ${node.host}:${node.port}`);
  for (const p of peers) if (!(await node.connectWithNode(p.host, p.port))) console.log(`* could not connect to ${p.host}:${p.port}`);

  const input = createInterface({ input: process.stdin, terminal: false });
  for await (const raw of input) {
    const line = raw.trim();
    if (line === '') continue;
    if (line === '/quit') break;
    if (line === '/peers') {
      console.log(`* ${node.allNodes.map((n) => n.id).join(', ') || 'nobody'}`);
    } else if (line.startsWith('/connect ')) {
      try {
        const p = hostPort(line.slice('/connect '.length).trim());
        if (!(await node.connectWithNode(p.host, p.port))) console.log(`* could not connect to ${p.host}:${p.port}`);
      } catch (err) {
        console.log(`* ${(err as Error).message}`);
      }
    } else if (line.startsWith('/')) {
      console.log('* commands: /connect host:port, /peers, /quit');
    } else {
      const message: ChatLine = { chat: line, from: node.id };
      node.sendToNodes(message);
    }
  }
  await node.stop();
  console.log('* bye');
  return 0;
}

process.exitCode = await main();
