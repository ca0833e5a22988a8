import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { Node, type NodeInit } from './node.js';
import type { JsonValue, NodeConnection, NodeMessage } from './node-connection.js';
import { fromPyJson, isPyObject, parsePyJson, pythonJsonDumps, toPyJson, type PyJson, type PyObject } from './python-json.js';

/*
 * The SecureNode of python-p2p-network (document 002's "show case"): every
 * message it creates is hashed and signed, and every message it receives is
 * checked before the application sees it. The format is the Python class's,
 * byte for byte:
 *
 *   data += { _mcs: messages sent, _mcr: messages received, _id: node id,
 *             _timestamp: Unix seconds (a float) }
 *   _message_id = SHA-512 hex of json.dumps(data, sort_keys=True)
 *   _hash       = SHA-512 hex of json.dumps(data + _message_id, sort_keys=True)
 *   _signature  = base64(RSA PKCS#1 v1.5 signature, SHA-512, of
 *                 json.dumps(data + _message_id + _hash, sort_keys=True))
 *   _public_key = the signer's RSA public key, PEM
 *   sent as json.dumps(all of it, separators=(',', ':'))
 *
 * json.dumps is Python's: see `python-json.ts`. Messages with `_type` ping,
 * pong, discovery and discovery_answer are the Python class's protocol.
 */

/** The fields SecureNode adds to every message it creates. */
export const SECURE_FIELDS = ['_id', '_timestamp', '_message_id', '_hash', '_signature', '_public_key'] as const;

/** RSA key size of generated keys, bits (the Python SecureNode's `RSA.generate(2048)`). */
export const SECURE_NODE_KEY_BITS = 2048;
/** Largest RSA key accepted from a remote, bits: bounds the cost of one verification. */
export const MAX_REMOTE_KEY_BITS = 8192;
/** Smallest RSA key accepted from a remote, bits. */
export const MIN_REMOTE_KEY_BITS = 1024;
/** Most remote public keys kept parsed, to verify repeat senders without parsing their PEM again. */
const KEY_CACHE_SIZE = 256;

/**
 * Why a received message was refused:
 * - `not-json`: the frame is not JSON.
 * - `not-a-dictionary`: JSON, but not an object.
 * - `unsigned`: `_signature`, `_public_key`, `_hash`, `_message_id` or `_timestamp` is missing or not of its type.
 * - `bad-public-key`: `_public_key` is not an RSA public key of 1024 to 8192 bits in PEM.
 * - `bad-signature`: the signature does not verify.
 * - `hash-mismatch`: `_hash` is not the hash of the data.
 * - `message-id-mismatch`: `_message_id` is not the hash of the data.
 */
export type SecureMessageErrorReason = 'not-json' | 'not-a-dictionary' | 'unsigned' | 'bad-public-key' | 'bad-signature' | 'hash-mismatch' | 'message-id-mismatch';

/** A received message that failed SecureNode's checks; emitted with `node_message_refused`, the message is dropped. */
export class SecureMessageError extends Error {
  override readonly name = 'SecureMessageError';
  readonly code = 'ERR_SECURE_MESSAGE';
  constructor(
    readonly reason: SecureMessageErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${reason}: ${message}`, options);
  }
}

/** Options of a {@link SecureNode}. */
export interface SecureNodeInit extends NodeInit {
  /** The node's RSA private key (a KeyObject or PEM). @default a new 2048-bit key */
  privateKey?: KeyObject | string;
}

/** SHA-512 hex of Python's `json.dumps(data, sort_keys=True)` (SecureNode `get_hash`). */
export function secureHash(data: PyJson): string {
  return createHash('sha512').update(pythonJsonDumps(data, { sortKeys: true }), 'utf8').digest('hex');
}

function without(data: PyObject, ...keys: string[]): PyObject {
  const out = Object.create(null) as PyObject;
  for (const k of Object.keys(data)) if (!keys.includes(k)) out[k] = data[k]!;
  return out;
}

/**
 * A node whose messages are hashed and signed (python-p2p-network's
 * SecureNode). Send with {@link sendMessage} or {@link createMessage};
 * received messages reach `node_message` only when their signature, hash
 * and message id check out, as a plain object (integers as numbers). Every
 * other message raises `node_message_refused` with a
 * {@link SecureMessageError} and is dropped.
 */
export class SecureNode extends Node {
  /** Discovery requests seen, by originating node id, with the connection they came from (python `discovery_messages`). */
  readonly discoveryMessages = new Map<string, NodeConnection>();
  private readonly privateKey: KeyObject;
  private readonly publicKeyPem: string;
  private readonly keyCache = new Map<string, KeyObject>();

  /** @throws RangeError for a bad option; Error when `privateKey` is not an RSA private key. */
  constructor(init: SecureNodeInit = {}) {
    super(init);
    const key = init.privateKey === undefined ? generateKeyPairSync('rsa', { modulusLength: SECURE_NODE_KEY_BITS }).privateKey : typeof init.privateKey === 'string' ? createPrivateKey(init.privateKey) : init.privateKey;
    if (key.asymmetricKeyType !== 'rsa') throw new Error('options.privateKey must be an RSA private key');
    this.privateKey = key;
    this.publicKeyPem = (createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string).trimEnd();
  }

  /** This node's public key, PEM (SubjectPublicKeyInfo), as sent in `_public_key`. */
  getPublicKey(): string {
    return this.publicKeyPem;
  }

  /** SHA-512 hex of Python's `json.dumps(data, sort_keys=True)` (python `get_hash`). */
  getHash(data: PyJson): string {
    return secureHash(data);
  }

  /**
   * Adds `_mcs`, `_mcr`, `_id`, `_timestamp`, `_message_id`, `_hash`,
   * `_signature` and `_public_key` to `data` and returns the JSON text to
   * send (python `create_message`). Numbers whose JSON has no fraction or
   * exponent are integers to Python, others floats; pass an object with a
   * null prototype (whose integers are bigints) to choose exactly.
   * @throws TypeError when `data` holds something JSON cannot.
   */
  createMessage(data: { [key: string]: JsonValue } | PyObject): string {
    const py = toPyJsonObject(data);
    for (const k of SECURE_FIELDS) delete py[k];
    py['_mcs'] = BigInt(this.messageCountSend);
    py['_mcr'] = BigInt(this.messageCountRecv);
    py['_id'] = this.id;
    py['_timestamp'] = nowFloat(); // a float, as time.time()
    py['_message_id'] = secureHash(py);
    this.debugPrint('Message creation:');
    py['_hash'] = secureHash(py);
    const signed = pythonJsonDumps(py, { sortKeys: true });
    this.debugPrint(`Message signature based on: ${signed}`);
    py['_signature'] = sign('sha512', Buffer.from(signed, 'utf8'), this.privateKey).toString('base64');
    py['_public_key'] = this.publicKeyPem;
    this.debugPrint(`_hash: ${String(py['_hash'])}`);
    return pythonJsonDumps(py, { separators: [',', ':'] });
  }

  /** Signs `{"message": message}` and sends it to every connected node (python `send_message`). */
  sendMessage(message: JsonValue): void {
    this.sendToNodes(this.createMessage({ message }));
  }

  /**
   * Checks a received message (python `check_message`): the signature over
   * the data without `_signature` and `_public_key`, `_hash` over the data
   * without those and `_hash`, `_message_id` over the data without all three.
   * @returns undefined when it checks out, else the refusal.
   */
  checkMessage(data: PyObject): SecureMessageError | undefined {
    const { _signature: signature, _public_key: publicKey, _hash: hash, _message_id: messageId, _timestamp: timestamp } = data;
    if (typeof signature !== 'string' || typeof publicKey !== 'string' || typeof hash !== 'string' || typeof messageId !== 'string' || timestamp === undefined) {
      return new SecureMessageError('unsigned', 'a SecureNode message has string _signature, _public_key, _hash and _message_id, and _timestamp');
    }
    let key: KeyObject;
    try {
      key = this.publicKey(publicKey);
    } catch (err) {
      return new SecureMessageError('bad-public-key', (err as Error).message, { cause: err });
    }
    const signedText = pythonJsonDumps(without(data, '_signature', '_public_key'), { sortKeys: true });
    this.debugPrint(`Message to verify: ${signedText}`);
    let ok = false;
    try {
      ok = /^[A-Za-z0-9+/]*={0,2}$/.test(signature) && verify('sha512', Buffer.from(signedText, 'utf8'), key, Buffer.from(signature, 'base64'));
    } catch {
      ok = false;
    }
    if (!ok) return new SecureMessageError('bad-signature', 'the signature does not verify with _public_key');
    if (secureHash(without(data, '_signature', '_public_key', '_hash')) !== hash) return new SecureMessageError('hash-mismatch', '_hash is not the SHA-512 of the data');
    if (secureHash(without(data, '_signature', '_public_key', '_hash', '_message_id')) !== messageId) {
      return new SecureMessageError('message-id-mismatch', '_message_id is not the SHA-512 of the data');
    }
    return undefined;
  }

  /** Verifies every message before the application sees it; handles ping, pong and discovery. @internal */
  override receiveMessage(node: NodeConnection, _data: NodeMessage, text: string): void {
    let parsed: PyJson;
    try {
      parsed = parsePyJson(text);
    } catch (err) {
      return this.refuse(node, new SecureMessageError('not-json', (err as Error).message, { cause: err }));
    }
    if (!isPyObject(parsed)) return this.refuse(node, new SecureMessageError('not-a-dictionary', 'a SecureNode message is a JSON object'));
    const error = this.checkMessage(parsed);
    if (error) return this.refuse(node, error);
    switch (parsed['_type']) {
      case 'ping':
        return this.receivedPing(node, parsed);
      case 'pong':
        return this.receivedPong(node, parsed);
      case 'discovery':
        return this.receivedDiscovery(node, parsed);
      case 'discovery_answer':
        return this.receivedDiscoveryAnswer(node, parsed);
      default:
        return this.nodeMessage(node, fromPyJson(parsed));
    }
  }

  // ---------------------------------------------------------------------------
  // Ping / pong (python send_ping, send_pong, received_ping, received_pong)

  /** Sends a signed `{"_type": "ping", "timestamp": now, "id": our id}` to every node. */
  sendPing(): void {
    this.sendToNodes(this.createMessage(obj({ _type: 'ping', timestamp: nowFloat(), id: this.id })));
  }

  /** Answers a ping with a signed pong carrying its `timestamp` as received. */
  sendPong(node: NodeConnection, timestamp: PyJson): void {
    this.sendToNode(node, this.createMessage(obj({ _type: 'pong', timestamp, timestamp_node: nowFloat(), id: this.id })));
  }

  /** A verified ping: answered with a pong. */
  protected receivedPing(node: NodeConnection, data: PyObject): void {
    this.sendPong(node, data['timestamp'] ?? null);
  }

  /**
   * A verified pong: the latency, seconds, is stored on the connection
   * (`node.getInfo('latency')`) and the pong goes to `node_message`.
   */
  protected receivedPong(node: NodeConnection, data: PyObject): void {
    const sent = data['timestamp'];
    if (typeof sent === 'number' || typeof sent === 'bigint') {
      const latency = Date.now() / 1000 - Number(sent);
      node.setInfo('latency', latency);
      this.debugPrint(`Received pong message with latency ${latency}`);
    }
    this.nodeMessage(node, fromPyJson(data));
  }

  // ---------------------------------------------------------------------------
  // Discovery (python send_discovery, received_discovery, ...)

  /** Asks every node for its connections: a signed `{"_type": "discovery", "id": our id, "timestamp": now}`. */
  sendDiscovery(): void {
    this.sendToNodes(this.createMessage(obj({ _type: 'discovery', id: this.id, timestamp: nowFloat() })));
  }

  /**
   * Sends a signed discovery_answer: `{"id", "_type": "discovery_answer",
   * "timestamp", "nodes": [{"id", "ip", "port", "connection": "inbound"|"outbound"}, ...]}`,
   * our own connections unless `nodes` (an answer being relayed) is given.
   */
  sendDiscoveryAnswer(node: NodeConnection, data: PyObject, nodes?: PyJson): void {
    const list: PyJson =
      nodes ??
      this.allNodes.map((n) => obj({ id: n.id, ip: n.host, port: BigInt(n.port), connection: n.direction }));
    this.sendToNode(node, this.createMessage(obj({ id: data['id'] ?? null, _type: 'discovery_answer', timestamp: data['timestamp'] ?? null, nodes: list })));
  }

  /** A verified discovery: answered once per originating id, and relayed to every other node. */
  protected receivedDiscovery(node: NodeConnection, data: PyObject): void {
    const id = data['id'];
    if (typeof id !== 'string' || this.discoveryMessages.has(id)) {
      this.debugPrint('discovery_message: message already received, so not sending it');
      return;
    }
    this.debugPrint('discovery_message: process message');
    this.discoveryMessages.set(id, node);
    this.sendDiscoveryAnswer(node, data);
    this.sendToNodes(this.createMessage(obj({ _type: 'discovery', id, timestamp: data['timestamp'] ?? null })), [node]);
  }

  /** A verified discovery_answer: relayed toward the node that asked, or, when it answers our own discovery, given to `node_message`. */
  protected receivedDiscoveryAnswer(node: NodeConnection, data: PyObject): void {
    const id = data['id'];
    const back = typeof id === 'string' ? this.discoveryMessages.get(id) : undefined;
    if (back) {
      this.sendDiscoveryAnswer(back, data, data['nodes'] ?? []);
    } else if (id === this.id) {
      this.debugPrint(`discovery_message_answer: This is for me!: ${pythonJsonDumps(data)}`);
      this.nodeMessage(node, fromPyJson(data));
    } else {
      this.debugPrint('discovery_message_answer: unknown discovery id');
    }
  }

  private refuse(node: NodeConnection, error: SecureMessageError): void {
    this.messageCountRerr++;
    this.refuseMessage(node, error);
  }

  private publicKey(pem: string): KeyObject {
    const cached = this.keyCache.get(pem);
    if (cached) return cached;
    const key = createPublicKey(pem);
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`_public_key is a ${key.asymmetricKeyType ?? 'unknown'} key, not RSA`);
    if (bits < MIN_REMOTE_KEY_BITS || bits > MAX_REMOTE_KEY_BITS) throw new Error(`_public_key has ${bits} bits, outside ${MIN_REMOTE_KEY_BITS}..${MAX_REMOTE_KEY_BITS}`);
    if (this.keyCache.size >= KEY_CACHE_SIZE) this.keyCache.delete(this.keyCache.keys().next().value!);
    this.keyCache.set(pem, key);
    return key;
  }
}

/** `time.time()`: Unix seconds as a float. */
function nowFloat(): number {
  return Date.now() / 1000;
}

function obj(fields: { [k: string]: PyJson }): PyObject {
  return Object.assign(Object.create(null) as PyObject, fields);
}

/** A null-prototype object is taken as already Python-shaped (bigints are integers, numbers floats); any other object is converted with `toPyJson`. */
function toPyJsonObject(data: { [key: string]: JsonValue } | PyObject): PyObject {
  const out = Object.create(null) as PyObject;
  const pyShaped = Object.getPrototypeOf(data) === null;
  for (const k of Object.keys(data)) {
    const v = (data as Record<string, unknown>)[k];
    out[k] = pyShaped ? (v as PyJson) : toPyJson(v as JsonValue);
  }
  return out;
}
