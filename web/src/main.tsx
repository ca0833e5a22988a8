import { render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { EventView } from '../../src/api/event-views.js';
import type { BanView, BlockSummaryView, BlockView, ChainPage, MempoolView, NodeInfo, PeerView, SendTransferResult, TrackerView } from '../../src/node/node-api.js';
import { get, post, type Answer } from './api.js';
import { LineChart } from './charts.js';
import { toCheese } from './cheese.js';
import { formatCoins, formatRate, formatTime, parseCoins, short } from './format.js';
import './style.css';

/*
 * The peer window of document 003 (a tracker and three peers, each with the
 * buttons "peer list", "connect peers", "create transaction" and "show cheese
 * stack", the mining race told in its words), as a page served by the peer.
 * Live: every change arrives on the server-sent event stream `/events`; the
 * page re-reads a view only when an event says it changed, never on a timer.
 */

/** Blocks per page of the cheese stack. */
const STACK_PAGE = 10;
/** Blocks shown in the mining race. */
const RACE_BLOCKS = 60;
/** Points kept in the hash-rate chart (one per `mining-stats` event, every 2 s). */
const HASH_POINTS = 300;
/** Lines kept in the narration. */
const NARRATION_LINES = 200;
/** Views re-read after an event are fetched at most this often, ms. */
const REFRESH_MS = 300;
/** Longest wait before queued events are applied, ms (one render per batch). */
const EVENT_BATCH_MS = 150;
/** Every event type of the stream (src/api/event-views.ts). */
const EVENT_TYPES: ReadonlyArray<EventView['type']> = [
  'block-connected',
  'block-disconnected',
  'tip-changed',
  'block-rejected',
  'tx-accepted',
  'tx-evicted',
  'tx-rejected',
  'peer-connected',
  'peer-disconnected',
  'peer-banned',
  'block-mined',
  'mining-stats',
  'status',
];

interface Line {
  at: number;
  text: string;
  kind: 'mined' | 'cheese' | 'tx' | 'peer' | 'error' | 'info';
}

function useNarration(): [Line[], (text: string, kind: Line['kind']) => void] {
  const [lines, setLines] = useState<Line[]>([]);
  const say = useCallback((text: string, kind: Line['kind']) => setLines((l) => [{ at: Date.now(), text, kind }, ...l].slice(0, NARRATION_LINES)), []);
  return [lines, say];
}

function App() {
  const [info, setInfo] = useState<NodeInfo | undefined>();
  const [control, setControl] = useState(false);
  const [live, setLive] = useState(false);
  const [stopped, setStopped] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [tracker, setTracker] = useState<TrackerView | undefined>();
  const [peers, setPeers] = useState<PeerView[]>([]);
  const [bans, setBans] = useState<BanView[]>([]);
  const [mempool, setMempool] = useState<MempoolView | undefined>();
  const [race, setRace] = useState<BlockSummaryView[]>([]);
  const [hash, setHash] = useState<{ x: number[]; y: number[] }>({ x: [], y: [] });
  const [stackFrom, setStackFrom] = useState<number | undefined>(undefined);
  const [stack, setStack] = useState<ChainPage | undefined>();
  const [detail, setDetail] = useState<BlockView | undefined>();
  const [cheese, setCheese] = useState(false);
  const [txResult, setTxResult] = useState<{ text: string; ok: boolean } | undefined>();
  const [lines, say] = useNarration();
  const stackRef = useRef<HTMLElement>(null);
  const infoRef = useRef<NodeInfo | undefined>(undefined);
  infoRef.current = info;
  const stackFromRef = useRef<number | undefined>(undefined);
  stackFromRef.current = stackFrom;

  /** Shows an API error in the banner and the narration; returns whether the answer was good. */
  const check = useCallback(<T,>(a: Answer<T>, what: string): a is { ok: true; body: T } => {
    if (a.ok) return true;
    const text = `${what}: ${a.status ? `${a.status} ` : ''}${a.code} — ${a.reason}`;
    setError(text);
    say(text, 'error');
    return false;
  }, []);

  const loadInfo = useCallback(async () => {
    const a = await get<NodeInfo>('/info');
    if (a.ok) setInfo(a.body);
  }, []);
  const loadPeers = useCallback(async (refresh = false) => {
    const [t, p, b] = await Promise.all([get<TrackerView>(`/tracker${refresh ? '?refresh=true' : ''}`), get<PeerView[]>('/peers'), get<BanView[]>('/bans')]);
    if (t.ok) setTracker(t.body);
    if (p.ok) setPeers(p.body);
    if (b.ok) setBans(b.body);
    return t;
  }, []);
  const loadMempool = useCallback(async () => {
    const a = await get<MempoolView>('/mempool?limit=20');
    if (a.ok) setMempool(a.body);
  }, []);
  const loadStack = useCallback(async (from: number | undefined) => {
    const a = await get<ChainPage>(`/chain?limit=${STACK_PAGE}${from !== undefined ? `&from=${from}` : ''}`);
    if (check(a, 'show cheese stack')) {
      setStack(a.body);
      setStackFrom(from);
    }
  }, []);
  const loadRace = useCallback(async () => {
    const a = await get<ChainPage>(`/chain?limit=${RACE_BLOCKS}`);
    if (a.ok) setRace(a.body.blocks);
  }, []);
  const openBlock = useCallback(async (hash: string) => {
    const a = await get<BlockView>(`/blocks/${hash}`);
    if (check(a, 'block')) setDetail(a.body);
  }, []);

  // Refreshes triggered by events are coalesced: a burst of 1,000 transfers costs one fetch per view.
  const pending = useRef(new Set<string>());
  const refresh = useCallback((what: 'info' | 'peers' | 'mempool' | 'stack') => {
    if (pending.current.size === 0) {
      window.setTimeout(() => {
        const todo = [...pending.current];
        pending.current.clear();
        if (todo.includes('info')) void loadInfo();
        if (todo.includes('peers')) void loadPeers();
        if (todo.includes('mempool')) void loadMempool();
        if (todo.includes('stack') && stackFromRef.current === undefined) void loadStack(undefined);
      }, REFRESH_MS);
    }
    pending.current.add(what);
  }, []);

  useEffect(() => {
    void loadInfo();
    void get<{ control: boolean }>('/auth').then((a) => a.ok && setControl(a.body.control));
    void loadPeers();
    void loadMempool();
    void loadRace();
    void loadStack(undefined);
    const es = new EventSource('/events');
    es.onopen = () => setLive(true);
    es.onerror = () => setLive(false);
    // Events are applied in batches, at most every EVENT_BATCH_MS: a node that connects hundreds of blocks a
    // second (regtest, a sync) costs the page one render per batch, not one per event.
    let queue: EventView[] = [];
    let timer: number | undefined;
    const flush = (): void => {
      timer = undefined;
      const batch = queue;
      queue = [];
      for (const e of batch) apply(e);
    };
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (m) => {
        queue.push(JSON.parse((m as MessageEvent<string>).data) as EventView);
        timer ??= window.setTimeout(flush, EVENT_BATCH_MS);
      });
    }
    const apply = (e: EventView): void => {
      switch (e.type) {
        case 'block-connected': {
          const me = infoRef.current?.miningAddress;
          if (e.miner !== me) say(`new cheese added: block ${e.height} ${short(e.hash, 16)} mined by ${short(e.miner, 10)} (${e.txCount - 1} transactions)`, 'cheese');
          setRace((r) => [{ hash: e.hash, height: e.height, prevHash: e.prevHash, time: e.time, bits: e.bits, nonce: e.nonce, txCount: e.txCount, size: e.size, miner: e.miner, reward: e.reward }, ...r.filter((b) => b.height < e.height)].slice(0, RACE_BLOCKS));
          setInfo((i) => (i ? { ...i, height: e.height, tip: e.hash } : i));
          refresh('info');
          refresh('mempool');
          refresh('stack');
          return;
        }
        case 'block-disconnected':
          say(`cheese removed by a reorg: block ${e.height} ${short(e.hash, 16)}`, 'cheese');
          setRace((r) => r.filter((b) => b.hash !== e.hash));
          refresh('stack');
          return;
        case 'block-mined':
          say(`cheese mined! block ${e.height} ${short(e.hash, 16)} — the reward is ours`, 'mined');
          return;
        case 'tip-changed':
          if (e.reorgDepth > 0) say(`reorg: ${e.reorgDepth} block(s) replaced, new tip ${e.height}`, 'cheese');
          return;
        case 'block-rejected':
          say(`block ${short(e.hash, 16)} refused: ${e.code} — ${e.reason}`, 'error');
          return;
        case 'tx-accepted': {
          const from = e.source === 'api' ? 'created on this peer' : e.source ? `received from ${short(e.source, 20)}` : 'received';
          say(`transaction ${from}: ${formatCoins(e.amount)} from ${short(e.sender, 10)} to ${short(e.recipient, 10)} (txid ${short(e.txid, 12)})`, 'tx');
          refresh('mempool');
          return;
        }
        case 'tx-evicted':
          refresh('mempool');
          return;
        case 'tx-rejected':
          say(`transaction ${short(e.txid, 12)} refused${e.source ? ` from ${e.source === 'api' ? 'this peer' : short(e.source, 20)}` : ''}: ${e.code} — ${e.reason}`, 'error');
          return;
        case 'peer-connected':
          say(`Connection to peer [${short(e.nodeId, 20)}] (${e.direction}, ${e.host}:${e.port})`, 'peer');
          refresh('peers');
          refresh('info');
          return;
        case 'peer-disconnected':
          say(`peer ${short(e.nodeId, 20)} left: ${e.reason}`, 'peer');
          refresh('peers');
          refresh('info');
          return;
        case 'peer-banned':
          say(`peer ${short(e.nodeId, 20) || e.host} banned: ${e.reason}`, 'error');
          refresh('peers');
          return;
        case 'mining-stats':
          setHash((h) => ({ x: [...h.x, Date.now() / 1000].slice(-HASH_POINTS), y: [...h.y, e.hashRate].slice(-HASH_POINTS) }));
          setInfo((i) => (i ? { ...i, hashRate: e.hashRate, blocksWon: e.blocksWon } : i));
          return;
        case 'status':
          if (e.state === 'stopping') {
            setStopped(true);
            say('the peer is stopping', 'info');
          }
          return;
      }
    };
    return () => es.close();
  }, []);

  // --- the four buttons of document 003, and the other controls ---
  const peerList = async (): Promise<void> => {
    const t = await loadPeers(true);
    if (check(t, 'peer list')) say(`peer list: ${t.body.members.length} member(s) at tracker ${t.body.tracker ?? '(none)'}`, 'peer');
  };
  const connectPeers = async (): Promise<void> => {
    const a = await post<{ ok: true; dialing?: number }>('/peers/connect-tracker');
    if (check(a, 'connect peers')) say(`connect peers: dialing ${a.body.dialing ?? 0} tracker member(s)`, 'peer');
    void loadPeers();
  };
  const showTx = (a: Answer<SendTransferResult>): void => {
    if (a.ok) {
      setTxResult({ ok: true, text: `accepted: txid ${a.body.txid}` });
    } else {
      setTxResult({ ok: false, text: `refused (${a.status}): ${a.code} — ${a.reason}` });
      check(a, 'create transaction');
    }
  };
  const createTransaction = async (): Promise<void> => showTx(await post<SendTransferResult>('/wallet/send', { random: true }));
  const showStack = async (): Promise<void> => {
    await loadStack(undefined);
    stackRef.current?.scrollIntoView({ behavior: 'smooth' });
  };
  const act = async (path: string, body: unknown, what: string): Promise<void> => {
    const a = await post(path, body);
    if (check(a, what)) {
      setError(undefined);
      say(`${what}: done`, 'info');
    }
    void loadInfo();
    void loadPeers();
  };

  return (
    <main>
      <header>
        <h1>
          cheesechain <span class="muted">peer</span> <span data-testid="node-id" title={info?.nodeId}>
            {info ? short(info.nodeId, 24) : '…'}
          </span>
        </h1>
        <div class="badges">
          <span class={live ? 'badge ok' : 'badge bad'} data-testid="live">
            {live ? 'live' : 'offline'}
          </span>
          <span class={control ? 'badge ok' : 'badge warn'} data-testid="control">
            {control ? 'control: token ok' : 'read-only: open the URL with ?token=… printed at start'}
          </span>
          {stopped && <span class="badge bad">stopped</span>}
        </div>
      </header>
      {error && (
        <div class="error" data-testid="error" onClick={() => setError(undefined)}>
          {error}
        </div>
      )}

      <nav class="seed-buttons">
        <button data-testid="btn-peer-list" onClick={peerList}>
          peer list
        </button>
        <button data-testid="btn-connect-peers" onClick={connectPeers}>
          connect peers
        </button>
        <button data-testid="btn-create-transaction" onClick={createTransaction}>
          create transaction
        </button>
        <button data-testid="btn-show-cheese-stack" onClick={showStack}>
          show cheese stack
        </button>
      </nav>

      <Status info={info} onMining={(on) => act(on ? '/mining/start' : '/mining/stop', {}, on ? 'start mining' : 'stop mining')} onStop={() => confirm('Stop this peer?') && act('/node/stop', {}, 'stop node')} />

      <div class="columns peers-row">
        <section>
          <h2>Peer list</h2>
          <PeerTable tracker={tracker} peers={peers} act={act} />
          <ConnectForm act={act} />
          <h3>Bans</h3>
          {bans.length === 0 ? (
            <p class="muted">none</p>
          ) : (
            <ul data-testid="bans">
              {bans.map((b) => (
                <li key={b.key}>
                  {b.key} until {new Date(b.until).toLocaleString()}{' '}
                  <button class="small" onClick={() => act('/peers/unban', b.key.startsWith('id:') ? { nodeId: b.key.slice(3) } : { host: b.key.replace(/^(host|addr):/, '').replace(/:\d+$/, '') }, 'unban')}>
                    unban
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section>
          <h2>Create transaction</h2>
          <p class="muted">Signed with this peer's mining key {info?.miningAddress ? short(info.miningAddress, 16) : ''}.</p>
          <TransferForm onResult={showTx} onRandom={createTransaction} />
          {txResult && (
            <p class={txResult.ok ? 'result ok' : 'result bad'} data-testid="tx-result">
              {txResult.text}
            </p>
          )}
          <h3>Mempool ({mempool?.size ?? 0} transactions, {mempool?.bytes ?? 0} bytes)</h3>
          <table data-testid="mempool">
            <thead>
              <tr>
                <th>txid</th>
                <th>from</th>
                <th>to</th>
                <th>amount</th>
                <th>fee</th>
              </tr>
            </thead>
            <tbody>
              {mempool?.transactions.map(({ txid, tx }) =>
                tx.type === 'transfer' ? (
                  <tr key={txid} data-txid={txid}>
                    <td class="mono">{short(txid)}</td>
                    <td class="mono">{short(tx.sender, 8)}</td>
                    <td class="mono">{short(tx.recipient, 8)}</td>
                    <td>{formatCoins(tx.amount)}</td>
                    <td>{tx.fee}</td>
                  </tr>
                ) : null,
              )}
            </tbody>
          </table>
        </section>
      </div>

      <section>
        <h2>The mining race</h2>
        <Race blocks={race} hash={hash} me={info?.miningAddress} />
      </section>

      <div class="columns">
        <section ref={stackRef}>
          <h2>Cheese stack</h2>
          <Stack page={stack} from={stackFrom} load={loadStack} open={openBlock} me={info?.miningAddress} />
        </section>
        <section>
          <h2>
            Block detail{' '}
            <label class="toggle">
              <input type="checkbox" data-testid="cheese-toggle" checked={cheese} onChange={(e) => setCheese((e.target as HTMLInputElement).checked)} /> show as cheese
              (document 001)
            </label>
          </h2>
          {detail ? <BlockDetail view={detail} cheese={cheese} /> : <p class="muted">Pick a block of the stack.</p>}
        </section>
      </div>

      <section>
        <h2>Narration</h2>
        <ol class="narration" data-testid="narration">
          {lines.map((l, i) => (
            <li key={l.at + ':' + i} class={l.kind}>
              <span class="muted">{new Date(l.at).toLocaleTimeString()}</span> {l.text}
            </li>
          ))}
        </ol>
      </section>
    </main>
  );
}

function Status(props: { info: NodeInfo | undefined; onMining: (on: boolean) => void; onStop: () => void }) {
  const i = props.info;
  if (!i) return <section class="status">loading…</section>;
  const cell = (label: string, value: string | number, id: string) => (
    <div class="cell">
      <div class="label">{label}</div>
      <div class="value" data-testid={id}>
        {value}
      </div>
    </div>
  );
  return (
    <section class="status">
      {cell('network', i.network, 'status-network')}
      {cell('height', i.height, 'status-height')}
      {cell('tip', short(i.tip, 10), 'status-tip')}
      {cell('chain work', `0x${i.chainWork}`, 'status-work')}
      {cell('peers', i.peers, 'status-peers')}
      {cell('mempool', i.mempool, 'status-mempool')}
      {cell('hash rate', formatRate(i.hashRate), 'status-hashrate')}
      {cell('blocks won', i.blocksWon, 'status-won')}
      {cell('sync', `${(i.syncProgress * 100).toFixed(1)} % of ${i.bestPeerHeight}`, 'status-sync')}
      <div class="cell">
        <div class="label">mining</div>
        <div class="value" data-testid="status-mining">
          {i.mining ? 'on' : 'off'}{' '}
          <button class="small" data-testid={i.mining ? 'btn-stop-mining' : 'btn-start-mining'} onClick={() => props.onMining(!i.mining)}>
            {i.mining ? 'stop' : 'start'}
          </button>
        </div>
      </div>
      <div class="cell">
        <div class="label">node</div>
        <div class="value">
          <button class="small danger" data-testid="btn-stop-node" onClick={props.onStop}>
            stop node
          </button>
        </div>
      </div>
    </section>
  );
}

function PeerTable(props: { tracker: TrackerView | undefined; peers: PeerView[]; act: (path: string, body: unknown, what: string) => Promise<void> }) {
  const t = props.tracker;
  const members = t?.members ?? [];
  const known = new Set(members.flatMap((m) => (m.connection ? [m.connection.nodeId] : [])));
  const others = props.peers.filter((p) => !known.has(p.nodeId));
  const row = (key: string, pid: string, address: string, p: PeerView | undefined, self: boolean) => (
    <tr key={key} data-testid="peer-row" data-connected={p ? 'yes' : 'no'} class={self ? 'self' : ''}>
      <td class="mono pid" title={pid}>
        {pid}
      </td>
      <td class="mono">{address}</td>
      <td title={p?.nodeId}>{self ? 'this peer' : p ? `yes (${short(p.nodeId, 14)})` : 'no'}</td>
      <td>{p?.direction ?? ''}</td>
      <td>{p?.height ?? ''}</td>
      <td>{p ? (p.latencyMs === null ? '—' : `${p.latencyMs} ms`) : ''}</td>
      <td class="actions">
        {p && (
          <>
            <button class="small" onClick={() => props.act('/peers/disconnect', { nodeId: p.nodeId }, `disconnect ${short(p.nodeId, 20)}`)}>
              disconnect
            </button>{' '}
            <button class="small danger" onClick={() => props.act('/peers/ban', { nodeId: p.nodeId, seconds: 3600 }, `ban ${short(p.nodeId, 20)}`)}>
              ban 1 h
            </button>
          </>
        )}
      </td>
    </tr>
  );
  return (
    <>
      <p class="muted">
        tracker {t?.tracker ?? 'none'}; this peer is {t?.peerId ?? '(not joined)'}
        {t?.updatedAt ? `; list of ${new Date(t.updatedAt).toLocaleTimeString()}` : ''}
      </p>
      <table data-testid="peers">
        <thead>
          <tr>
            <th>PID</th>
            <th>address</th>
            <th>connected</th>
            <th>direction</th>
            <th>height</th>
            <th>latency</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {members.map((m) => row(m.peerId, m.peerId, `${m.host}:${m.port}`, m.connection, m.self))}
          {others.map((p) => row(p.nodeId, '(not at the tracker)', `${p.host}:${p.port}`, p, false))}
        </tbody>
      </table>
    </>
  );
}

function ConnectForm(props: { act: (path: string, body: unknown, what: string) => Promise<void> }) {
  const [addr, setAddr] = useState('');
  const submit = (e: Event): void => {
    e.preventDefault();
    const m = /^(.+):(\d+)$/.exec(addr.trim());
    void props.act('/peers/connect', m ? { host: m[1], port: Number(m[2]) } : { host: addr.trim() }, `connect ${addr}`);
  };
  return (
    <form class="inline" onSubmit={submit}>
      <input placeholder="host:port" value={addr} onInput={(e) => setAddr((e.target as HTMLInputElement).value)} data-testid="connect-address" />
      <button type="submit">connect</button>
    </form>
  );
}

function TransferForm(props: { onResult: (a: Answer<SendTransferResult>) => void; onRandom: () => void }) {
  const [recipient, setRecipient] = useState('');
  const [amount, setAmount] = useState('1');
  const [fee, setFee] = useState('0.00001');
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const a = parseCoins(amount);
    const f = parseCoins(fee);
    // Send what the user typed when it does not parse: the peer names the bad field (400), as for any client.
    const body = { recipient: recipient.trim(), amount: a === undefined ? amount : a.toString(), fee: f === undefined ? fee : f.toString() };
    props.onResult(await post<SendTransferResult>('/wallet/send', body));
  };
  return (
    <form class="transfer" onSubmit={submit} data-testid="transfer-form">
      <label>
        recipient (64 hex) <input value={recipient} onInput={(e) => setRecipient((e.target as HTMLInputElement).value)} data-testid="tx-recipient" />
      </label>
      <label>
        amount (coins) <input value={amount} onInput={(e) => setAmount((e.target as HTMLInputElement).value)} data-testid="tx-amount" />
      </label>
      <label>
        fee (coins) <input value={fee} onInput={(e) => setFee((e.target as HTMLInputElement).value)} data-testid="tx-fee" />
      </label>
      <button type="submit" data-testid="btn-send">
        send
      </button>{' '}
      <button type="button" onClick={props.onRandom}>
        random (document 003)
      </button>
    </form>
  );
}

function minerName(key: string, me: string | undefined): string {
  return key === me ? 'this peer' : short(key, 8);
}

function minerColour(key: string, me: string | undefined): string {
  if (key === me) return 'hsl(40 95% 50%)';
  let h = 0;
  for (let i = 0; i < 8; i++) h = (h * 31 + key.charCodeAt(i)) % 360;
  return `hsl(${h} 55% 55%)`;
}

function Race(props: { blocks: BlockSummaryView[]; hash: { x: number[]; y: number[] }; me: string | undefined }) {
  const asc = useMemo(() => [...props.blocks].reverse(), [props.blocks]);
  const intervals = useMemo(() => {
    const x: number[] = [];
    const y: number[] = [];
    // From height 2: the genesis block's time is fixed in the code, not raced for.
    for (let i = 1; i < asc.length; i++) {
      if (asc[i - 1]!.height === 0) continue;
      x.push(asc[i]!.height);
      y.push(asc[i]!.time - asc[i - 1]!.time);
    }
    return { x, y };
  }, [asc]);
  const wins = useMemo(() => {
    const m = new Map<string, number>();
    for (const b of props.blocks) m.set(b.miner, (m.get(b.miner) ?? 0) + 1);
    return [...m.entries()].sort((a, b) => b[1] - a[1]);
  }, [props.blocks]);
  return (
    <>
      <div class="chips" data-testid="race-chips">
        {props.blocks.slice(0, 30).map((b) => (
          <span key={b.hash} class="chip" style={{ background: minerColour(b.miner, props.me) }} title={`block ${b.height} by ${b.miner}`}>
            {b.height}: {minerName(b.miner, props.me)}
          </span>
        ))}
      </div>
      <p class="muted">
        Last {props.blocks.length} blocks won by:{' '}
        {wins.map(([k, n]) => (
          <span key={k} class="win" style={{ borderColor: minerColour(k, props.me) }}>
            {minerName(k, props.me)} × {n}
          </span>
        ))}
      </p>
      <div class="charts">
        <LineChart title="Block interval (s) by height" x={intervals.x} y={intervals.y} yLabel="seconds" time={false} points testId="chart-intervals" />
        <LineChart title="This peer's hash rate" x={props.hash.x} y={props.hash.y} yLabel="H/s" time testId="chart-hashrate" />
      </div>
    </>
  );
}

function Stack(props: { page: ChainPage | undefined; from: number | undefined; load: (from: number | undefined) => Promise<void>; open: (hash: string) => void; me: string | undefined }) {
  const p = props.page;
  if (!p) return <p class="muted">loading…</p>;
  const top = p.blocks[0]?.height ?? 0;
  const bottom = p.blocks[p.blocks.length - 1]?.height ?? 0;
  return (
    <>
      <table data-testid="stack">
        <thead>
          <tr>
            <th>height</th>
            <th>hash</th>
            <th>time</th>
            <th>txs</th>
            <th>miner</th>
          </tr>
        </thead>
        <tbody>
          {p.blocks.map((b) => (
            <tr key={b.hash} class="clickable" data-testid="stack-row" data-hash={b.hash} onClick={() => props.open(b.hash)}>
              <td>{b.height}</td>
              <td class="mono">{short(b.hash, 16)}</td>
              <td>{formatTime(b.time)}</td>
              <td>{b.txCount}</td>
              <td>{minerName(b.miner, props.me)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="pager">
        <button class="small" disabled={props.from === undefined} onClick={() => props.load(undefined)}>
          newest
        </button>
        <button class="small" disabled={top >= p.height} onClick={() => props.load(Math.min(p.height, top + p.blocks.length))} data-testid="stack-newer">
          newer
        </button>
        <button class="small" disabled={bottom === 0} onClick={() => props.load(bottom - 1)} data-testid="stack-older">
          older
        </button>
        <span class="muted">
          {' '}
          heights {bottom}–{top} of {p.height}
        </span>
      </div>
    </>
  );
}

function BlockDetail(props: { view: BlockView; cheese: boolean }) {
  const v = props.view;
  if (props.cheese) return <pre data-testid="cheese">{JSON.stringify(toCheese(v), null, 2)}</pre>;
  const h = v.block.header;
  return (
    <div data-testid="block-detail">
      <p>
        block <b>{v.height}</b> <span class="mono">{v.hash}</span> {v.mainChain ? '' : '(side branch)'}
      </p>
      <p class="muted">
        prev <span class="mono">{short(h.prevHash, 16)}</span> · merkle <span class="mono">{short(h.merkleRoot, 16)}</span> · time {formatTime(h.time)} · bits {h.bits} · nonce{' '}
        {h.nonce} · {v.size} bytes
      </p>
      <table>
        <thead>
          <tr>
            <th>txid</th>
            <th>from</th>
            <th>to</th>
            <th>amount</th>
            <th>fee</th>
          </tr>
        </thead>
        <tbody>
          {v.block.transactions.map((tx, i) => (
            <tr key={v.txids[i]} data-testid="detail-tx" data-txid={v.txids[i]}>
              <td class="mono">{short(v.txids[i] ?? '')}</td>
              <td class="mono">{tx.type === 'coinbase' ? 'coinbase' : short(tx.sender, 8)}</td>
              <td class="mono">{short(tx.recipient, 8)}</td>
              <td>{formatCoins(tx.amount)}</td>
              <td>{tx.type === 'transfer' ? tx.fee : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
