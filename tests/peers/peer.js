// Node's `ws` as an interop peer for websocket-protocol's tests.
//
//   node peer.js client ws://127.0.0.1:PORT [--deflate]   the client scenario
//   node peer.js server [--deflate]                       the server scenario
//
// With --deflate, permessage-deflate is offered (client) or accepted (server), and
// the client reports the negotiated extension as the step "deflate".
// Same JSON-lines output and scenario as peer.py (see tests/peers/README.md).
'use strict';
const { WebSocket, WebSocketServer } = require('ws');

const SIZES = [0, 125, 126, 65535, 65536, 1 << 20, 16 << 20];
const MAX = 64 << 20;
const DEFLATE = process.argv.includes('--deflate');

function report(fields) {
  process.stdout.write(JSON.stringify(fields) + '\n');
}

function textOf(n) {
  return 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.floor(n / 36) + 1).slice(0, n);
}

function binaryOf(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

// A queue of incoming messages and the close, so the scenario reads like a script.
function open(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { maxPayload: MAX, perMessageDeflate: DEFLATE });
    const inbox = [];
    const waiters = [];
    const push = (item) => (waiters.length ? waiters.shift()(item) : inbox.push(item));
    ws.on('message', (data, isBinary) => push({ data: isBinary ? data : data.toString() }));
    ws.on('close', (code, reason) => push({ close: [code, reason.toString()] }));
    ws.on('unexpected-response', (req, res) => reject({ status: res.statusCode }));
    ws.on('error', (e) => reject(e));
    // `ws.extensions` names the extensions only; the answer's parameters matter.
    let extensions = '';
    ws.on('upgrade', (res) => (extensions = res.headers['sec-websocket-extensions'] || ''));
    ws.on('open', () => resolve({
      ws,
      extensions,
      next: () => new Promise((r) => (inbox.length ? r(inbox.shift()) : waiters.push(r))),
    }));
  });
}

function same(a, b) {
  return Buffer.isBuffer(a) ? Buffer.isBuffer(b) && a.equals(b) : a === b;
}

async function client(url) {
  const base = url.replace(/\/$/, '');
  let c = await open(base + '/echo', ['chat', 'superchat']);
  report({ step: 'subprotocol', ok: c.ws.protocol === 'superchat', detail: c.ws.protocol });
  if (DEFLATE) {
    report({ step: 'deflate', ok: c.extensions.startsWith('permessage-deflate'), detail: c.extensions });
  }
  for (const n of SIZES) {
    for (const [kind, payload] of [['text', textOf(n)], ['binary', binaryOf(n)]]) {
      c.ws.send(payload);
      const got = (await c.next()).data;
      report({ step: `echo-${kind}-${n}`, ok: same(payload, got), detail: got ? got.length : null });
    }
  }
  c.ws.send('frag', { fin: false });
  c.ws.send('ment', { fin: false });
  c.ws.send('ed', { fin: true });
  let got = (await c.next()).data;
  report({ step: 'fragmented-by-client', ok: got === 'fragmented', detail: got });
  await new Promise((resolve) => { c.ws.once('pong', resolve); c.ws.ping('cli'); });
  report({ step: 'ping-by-client', ok: true, detail: 'pong' });
  c.ws.send('ping-me');
  got = (await c.next()).data;
  report({ step: 'ping-by-server', ok: got === 'pinged', detail: got });
  c.ws.send('fragment-me');
  got = (await c.next()).data;
  report({ step: 'fragmented-by-server', ok: got === 'fragmented', detail: got });
  c.ws.close(4001, 'client bye');
  let closed = (await c.next()).close;
  report({ step: 'close-by-client', ok: closed[0] === 4001, detail: closed });
  c = await open(base + '/echo', []);
  c.ws.send('close-me');
  closed = (await c.next()).close;
  report({ step: 'close-by-server', ok: closed[0] === 4002 && closed[1] === 'server bye', detail: closed });
  try {
    await open(base + '/refuse', []);
    report({ step: 'refused', ok: false, detail: 'connected' });
  } catch (e) {
    report({ step: 'refused', ok: e.status === 403, detail: e.status || String(e) });
  }
  report({ done: true });
  process.exit(0);
}

function server() {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    maxPayload: MAX,
    perMessageDeflate: DEFLATE ? { threshold: 64 } : false,
    handleProtocols: (protocols) => (protocols.has('superchat') ? 'superchat' : false),
    verifyClient: (info, cb) => (info.req.url === '/refuse' ? cb(false, 403, 'Forbidden') : cb(true)),
  });
  wss.on('listening', () => report({ listening: wss.address().port }));
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      if (text === 'close-me') ws.close(4002, 'server bye');
      else if (text === 'ping-me') { ws.once('pong', () => ws.send('pinged')); ws.ping('srv'); }
      else if (text === 'fragment-me') {
        ws.send('frag', { fin: false }); ws.send('ment', { fin: false }); ws.send('ed', { fin: true });
      } else ws.send(isBinary ? data : text);
    });
    ws.on('close', (code, reason) => report({ event: 'closed', code, reason: reason.toString() }));
  });
}

if (process.argv[2] === 'client') client(process.argv[3]).catch((e) => { report({ error: e instanceof Error ? e.stack : JSON.stringify(e) }); process.exit(1); });
else server();
