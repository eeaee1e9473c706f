// Node `ws` uploading large messages, for websocket-protocol's `recv_stream`
// tests (tests/interop_stream_recv.rs).
//
//     node upload.js ws://127.0.0.1:PORT [--deflate]
//
// Sends, waiting for the server's verdict after each ("<kind> <bytes> ok"): an
// 8 MiB binary message in 64 KiB fragments, an 8 MiB binary message in one
// frame, and a 4 MiB text message in fragments of 999 bytes, cut anywhere
// (inside code points too). Prints one JSON object per line, as peer.js does.
'use strict';

const WebSocket = require('ws');

const MIB = 1 << 20;
const UNIT = 'héllo wörld €𝄞 ';
const DEFLATE = process.argv.includes('--deflate');

function report(fields) {
  process.stdout.write(JSON.stringify(fields) + '\n');
}

function binaryOf(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

function textOf(n) {
  const unit = Buffer.byteLength(UNIT);
  return Buffer.from(UNIT.repeat(Math.floor(n / unit) + 1), 'utf8');
}

async function main(url) {
  const ws = new WebSocket(url, { perMessageDeflate: DEFLATE, maxPayload: 0 });
  const verdicts = [];
  let waiting = null;
  ws.on('message', (data) => {
    verdicts.push(data.toString());
    if (waiting) { const w = waiting; waiting = null; w(); }
  });
  const verdict = () => new Promise((resolve) => {
    if (verdicts.length) resolve(verdicts.shift());
    else waiting = () => resolve(verdicts.shift());
  });
  const send = (data, opts) => new Promise((resolve, reject) =>
    ws.send(data, { compress: DEFLATE, ...opts }, (e) => (e ? reject(e) : resolve())));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  if (DEFLATE) {
    report({ step: 'deflate', ok: ws.extensions.startsWith('permessage-deflate'), detail: ws.extensions });
  }
  const data = binaryOf(8 * MIB);
  const text = textOf(4 * MIB);
  const cases = [
    ['fragmented-binary', 'binary', data, 64 * 1024],
    ['single-frame-binary', 'binary', data, data.length],
    ['fragmented-text', 'text', text, 999],
  ];
  for (const [name, kind, payload, step] of cases) {
    for (let at = 0; at < payload.length; at += step) {
      const end = Math.min(at + step, payload.length);
      await send(payload.subarray(at, end), { binary: kind === 'binary', fin: end === payload.length });
    }
    const got = await verdict();
    report({ step: name, ok: got === `${kind} ${payload.length} ok`, detail: got });
  }
  ws.close(1000, 'done');
  await new Promise((resolve) => ws.once('close', resolve));
  report({ done: true });
}

main(process.argv[2]).catch((e) => {
  report({ error: e instanceof Error ? e.stack : JSON.stringify(e) });
  process.exit(1);
});
