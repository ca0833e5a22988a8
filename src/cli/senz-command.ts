import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { parseHostPort } from '../config/schema.js';
import { keyPairFromSeed } from '../core/ed25519.js';
import { fromHex } from '../core/encoding.js';
import { hashFromHex } from '../core/hash.js';
import { encodeTx, signTransfer, txid } from '../core/transaction.js';
import type { SenzClient, ReceivedSenz } from '../senz/client.js';
import type { SenzKeyPair } from '../senz/keys.js';
import { DEFAULT_FEE_BASE_UNITS, KEY_FILE_FORBIDDEN_BITS, KEY_FILE_MODE, parseCoins } from './wallet.js';

/*
 * `cheesechain senz …`: a Senz client of document 000 (docs/senz.md).
 *
 *   keygen   --name N [--rsa] [--key FILE]     a key pair (ed25519 by default; its public key is also a chain address)
 *   register                                   SHARE #pubkey … @mysensors
 *   coin     --service-id SID --param P        a coin for a service request (cc)
 *   value                                      the coin value (cv)
 *   send     --to USER|HEX --amount COINS      a transfer signed here, submitted by the coin service (ct)
 *   balance  [--addr HEX]                      balance of the key's (or any) chain address
 *   history                                    the coins issued to this user
 *   console                                    the original test client: a `Senz :` prompt; each line is signed and sent, replies are printed
 *
 * Keys never leave the client: a transfer is signed here and only its bytes travel.
 */

/** @default '127.0.0.1:9090' — the switch (document 000's port). */
export const DEFAULT_SENZ_SWITCH_ADDRESS = '127.0.0.1:9090';
/** @default 'coins' — the coin service's Senz name. */
export const DEFAULT_COIN_SERVICE = 'coins';
/** @default 10000 — how long a one-shot command waits for its reply, ms. */
export const DEFAULT_SENZ_TIMEOUT_MS = 10_000;
/** The console's prompt (document 000's test client). */
export const SENZ_PROMPT = 'Senz : ';

/** A failed `cheesechain senz` command: exit 2 for bad usage, 1 otherwise. */
export class SenzCommandError extends Error {
  override readonly name = 'SenzCommandError';
  readonly code = 'ERR_SENZ_COMMAND';
  readonly exitCode: 1 | 2;
  constructor(
    readonly reason: 'bad-usage' | 'file-exists' | 'bad-key-file' | 'refused' | 'no-reply',
    message: string,
  ) {
    super(message);
    this.exitCode = reason === 'bad-usage' ? 2 : 1;
  }
}

interface CommonOptions {
  name: string;
  key?: string;
  switch: string;
  switchName: string;
  service: string;
  timeout: number;
}

function keyFileOf(o: Pick<CommonOptions, 'name' | 'key'>): string {
  return o.key ?? `${o.name}.senz.pem`;
}

function print(line: string): void {
  process.stdout.write(line + '\n');
}

/** Writes a new key file (PKCS#8 PEM, mode 0600, never overwriting). */
async function keygen(o: CommonOptions & { rsa?: boolean }): Promise<void> {
  const { generateSenzKey, privateKeyPem, publicKeyBase64 } = await import('../senz/keys.js');
  const pair = generateSenzKey(o.rsa ? 'rsa' : 'ed25519');
  const file = keyFileOf(o);
  let fd: number;
  try {
    fd = openSync(file, 'wx', KEY_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SenzCommandError('file-exists', `${file} already exists; refusing to overwrite a key file`);
    throw err;
  }
  try {
    writeSync(fd, privateKeyPem(pair));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  print(`key      ${file} (${pair.type}, mode 0600)`);
  print(`name     ${o.name}`);
  if (pair.publicKey.address) print(`address  ${pair.publicKey.address}`);
  print(`pubkey   ${publicKeyBase64(pair.publicKey).slice(0, 60)}…`);
}

async function readKey(o: CommonOptions): Promise<SenzKeyPair> {
  const { keyPairFromPem } = await import('../senz/keys.js');
  const file = keyFileOf(o);
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    throw new SenzCommandError('bad-key-file', `no key file at ${file}; create one with: cheesechain senz keygen --name ${o.name}`);
  }
  if ((mode & KEY_FILE_FORBIDDEN_BITS) !== 0) throw new SenzCommandError('bad-key-file', `${file} can be read by group or others; run chmod 600 ${file}`);
  try {
    return keyPairFromPem(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SenzCommandError('bad-key-file', `${file}: ${(err as Error).message}`);
  }
}

async function openClient(o: CommonOptions): Promise<SenzClient> {
  const { SenzClient } = await import('../senz/client.js');
  let sw: { host: string; port: number };
  try {
    sw = parseHostPort(o.switch);
  } catch (err) {
    throw new SenzCommandError('bad-usage', `--switch: ${(err as Error).message}`);
  }
  return SenzClient.open({ name: o.name, key: await readKey(o), switchHost: sw.host, switchPort: sw.port, switchName: o.switchName });
}

/** Runs `fn` with a registered client (registration also learns the switch's key), closing it afterwards. */
async function withClient<T>(o: CommonOptions, fn: (c: SenzClient) => Promise<T>): Promise<T> {
  const client = await openClient(o);
  try {
    await client.register(o.timeout).catch((err: Error) => {
      throw new SenzCommandError(/timeout|no reply/.test(err.message) ? 'no-reply' : 'refused', `${err.message} (is the switch running at ${o.switch}?)`);
    });
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** A reply of the coin service to this client: forwarded by the switch from `service`. */
function fromService(o: CommonOptions, r: ReceivedSenz): boolean {
  return r.fromSwitch && r.msg.sender === o.service;
}

function attrs(r: ReceivedSenz): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of r.msg.attributes) if (a.name !== 'time') out[a.name] = a.value ?? '';
  return out;
}

/** Waits for the service's answer; a switch refusal (NotShared, UnknownReceiver) ends the wait too. */
async function ask(o: CommonOptions, c: SenzClient, text: string, want: (a: Record<string, string>) => boolean): Promise<Record<string, string>> {
  let r: ReceivedSenz;
  try {
    r = await c.request(text, (r) => (fromService(o, r) && want(attrs(r))) || (r.switchSigned && ['NotShared', 'UnknownReceiver'].includes(attrs(r).msg ?? '')), o.timeout);
  } catch {
    throw new SenzCommandError('no-reply', `no reply from ${o.service} within ${o.timeout} ms (is a peer running the coin service?)`);
  }
  const a = attrs(r);
  if (r.msg.sender === o.switchName) throw new SenzCommandError('refused', `the switch answered ${a.msg} for ${a.name}`);
  if (a.msg === 'CoinRefused' || a.msg === 'TransferRefused') throw new SenzCommandError('refused', `${a.msg}: ${a.reason}${a.BALANCE ? ` (service balance ${a.BALANCE})` : ''}`);
  return a;
}

async function balanceOf(o: CommonOptions, c: SenzClient, addr?: string): Promise<Record<string, string>> {
  return ask(o, c, `SHARE #f bal${addr ? ` #ADDR ${addr}` : ''} @${o.service}`, (a) => a.msg === 'Balance');
}

/** The ed25519 signing key of a Senz key, as tweetnacl's 64-byte secret key. */
function walletSecret(key: SenzKeyPair): Uint8Array {
  if (key.type !== 'ed25519') throw new SenzCommandError('bad-usage', 'sending coins needs an ed25519 key (its public key is the chain address); RSA keys can only receive coins with #ADDR');
  const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
  return keyPairFromSeed(der.subarray(der.length - 32)).secretKey;
}

async function console_(o: CommonOptions): Promise<void> {
  const client = await openClient(o);
  client.onMessage((r) => {
    process.stdout.write(`\n${r.raw}\n${SENZ_PROMPT}`);
  });
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: SENZ_PROMPT });
  print(`senz console: ${o.name} → switch ${o.switchName} at ${o.switch}; type a message without ^sender (it is signed and #time added), e.g. SHARE #pubkey <key> @${o.switchName} is sent for you by: register. Ctrl-D quits.`);
  rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === 'register') {
      await client.register(o.timeout).then(
        (r) => print(r),
        (err: Error) => print(err.message),
      );
    } else if (text !== '') {
      try {
        print(`sent: ${client.send(text)}`);
      } catch (err) {
        print((err as Error).message);
      }
    }
    rl.prompt();
  }
  await client.close();
}

function common(cmd: Command): Command {
  return cmd
    .requiredOption('--name <name>', 'your Senz name (^name)')
    .option('--key <file>', 'key file (default <name>.senz.pem)')
    .option('--switch <host:port>', 'the switch', DEFAULT_SENZ_SWITCH_ADDRESS)
    .option('--switch-name <name>', "the switch's name", 'mysensors')
    .option('--service <name>', "the coin service's name", DEFAULT_COIN_SERVICE)
    .option('--timeout <ms>', 'wait for a reply, ms', (v) => Number(v), DEFAULT_SENZ_TIMEOUT_MS);
}

/** Registers `cheesechain senz`. */
export function registerSenzCommand(program: Command): void {
  const senz = program.command('senz').description('a Senz client of document 000: keys, registration, coins for service requests, transfers, and the Senz : console (docs/senz.md)');

  common(senz.command('keygen').description('create a key file (ed25519 by default; --rsa for RSA as the original clients)'))
    .option('--rsa', 'an RSA key (2048 bits) instead of ed25519')
    .action((o: CommonOptions & { rsa?: boolean }) => keygen(o));

  common(senz.command('register').description('register the key under --name on the switch')).action((o: CommonOptions) =>
    withClient(o, async (c) => {
      // withClient registered already; say how it went
      print(`registered ${o.name} on ${o.switchName} (${o.switch}); switch key ${c.knownSwitchKey?.type ?? '?'}`);
    }),
  );

  common(senz.command('coin').description('request one coin for a service request (cc); prints the coin id and the txid paying it'))
    .requiredOption('--service-id <sid>', 'service id (S_ID), e.g. 1 for carpooling')
    .requiredOption('--param <p>', 'service parameter (S_PARA), e.g. colombo-kandy-115km')
    .option('--addr <hex>', 'chain address to pay (default: your ed25519 key)')
    .action((o: CommonOptions & { serviceId: string; param: string; addr?: string }) =>
      withClient(o, async (c) => {
        const now = Math.floor(Date.now() / 1000);
        const a = await ask(o, c, `SHARE #f cc #TIME ${now} #COIN #TXID #AMOUNT #S_ID ${o.serviceId} #S_PARA ${o.param}${o.addr ? ` #ADDR ${o.addr}` : ''} @${o.service}`, (a) => a.COIN !== undefined);
        print(`coin     ${a.COIN}`);
        print(`date     ${a.TIME}`);
        print(`amount   ${a.AMOUNT ?? '?'} coins`);
        print(`txid     ${a.TXID ?? '?'}`);
      }),
    );

  common(senz.command('value').description('the coin value (cv): the average value of the coins issued')).action((o: CommonOptions) =>
    withClient(o, async (c) => {
      const a = await ask(o, c, `SHARE #COIN_VALUE #f cv @${o.service}`, (a) => a.COIN_VALUE !== undefined);
      print(`coin value  ${a.COIN_VALUE} coins`);
    }),
  );

  common(senz.command('balance').description("the balance of your key's chain address (or --addr)"))
    .option('--addr <hex>', 'any chain address')
    .action((o: CommonOptions & { addr?: string }) =>
      withClient(o, async (c) => {
        const a = await balanceOf(o, c, o.addr);
        print(`address  ${a.ADDR}`);
        print(`balance  ${a.BALANCE} coins`);
      }),
    );

  common(senz.command('history').description('the last coins issued to you')).action((o: CommonOptions) =>
    withClient(o, async (c) => {
      const lines: string[] = [];
      // The Coin lines arrive before HistoryEnd, which ends the request.
      c.onMessage((r) => {
        const a = attrs(r);
        if (fromService(o, r) && a.msg === 'Coin') lines.push(`${a.COIN}  S_ID ${a.S_ID}  ${a.S_PARA}  ${a.TIME}  ${a.AMOUNT} coins  ${a.STATUS}  tx ${a.TXID}`);
      });
      const end = await ask(o, c, `SHARE #f hist @${o.service}`, (a) => a.msg === 'HistoryEnd');
      for (const l of lines) print(l);
      print(`${end.COUNT} coins issued to ${o.name}`);
    }),
  );

  common(senz.command('send').description('send coins: a transfer signed here with your ed25519 key, submitted by the coin service (ct)'))
    .requiredOption('--to <user|hex>', 'a registered Senz user (ed25519) or a chain address')
    .requiredOption('--amount <coins>', 'coins, e.g. 0.5')
    .option('--fee <coins>', 'fee in coins (default 0.00001)')
    .action((o: CommonOptions & { to: string; amount: string; fee?: string }) =>
      withClient(o, async (c) => {
        const amount = parseCoins(o.amount, '--amount');
        const fee = o.fee === undefined ? DEFAULT_FEE_BASE_UNITS : parseCoins(o.fee, '--fee');
        let to = o.to;
        if (!/^[0-9a-fA-F]{64}$/.test(to)) {
          const key = await c.publicKeyOf(to, o.timeout).catch((err: Error) => {
            throw new SenzCommandError('refused', err.message);
          });
          if (!key.address) throw new SenzCommandError('bad-usage', `${o.to} has an RSA key, which is no chain address; give a hex address`);
          to = key.address;
        }
        const secret = walletSecret(await readKey(o));
        const me = await balanceOf(o, c);
        const tx = signTransfer(hashFromHex(me.NET!), { recipient: fromHex(to.toLowerCase(), 32, '--to'), amount, fee, nonce: Number(me.NONCE) }, secret);
        // The switch forwards a DATA for attributes shared with the receiver: share #f and #TX first (document 000's SHARE-then-DATA).
        c.send(`SHARE #f #TX @${o.service}`);
        const a = await ask(o, c, `DATA #f ct #TX ${Buffer.from(encodeTx(tx)).toString('hex')} @${o.service}`, (a) => a.msg === 'TransferSubmitted');
        print(`txid     ${a.TXID}`);
        print(`to       ${to}`);
        if (a.TXID !== txid(tx)) throw new SenzCommandError('refused', `the service answered txid ${a.TXID}, but the signed transfer is ${txid(tx)}`);
      }),
    );

  common(senz.command('console').description('the original test client: a Senz : prompt; type a message, it is signed and sent; replies are printed')).action((o: CommonOptions) => console_(o));
}
