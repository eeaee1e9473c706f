// Node ws as the deflate peer of the hub's prepared-message test.
//
//   node fanout.js ws://127.0.0.1:PORT/PATH
//
// Offers permessage-deflate (context takeover on, every message compressed:
// threshold 0), echoes every message, reports the extension and the close code.
'use strict';
const WebSocket = require('ws');

const report = (r) => process.stdout.write(JSON.stringify(r) + '\n');
const ws = new WebSocket(process.argv[2], { perMessageDeflate: { threshold: 0 }, maxPayload: 1 << 24 });
// The header as the server sent it (`ws.extensions` keeps only the names).
ws.on('upgrade', (res) => {
  const ext = res.headers['sec-websocket-extensions'] || '';
  report({ step: 'deflate', ok: ext.startsWith('permessage-deflate'), detail: ext });
});
ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
ws.on('close', (code, reason) => {
  report({ step: 'closed', ok: code === 1000, detail: `${code} ${reason}` });
  report({ done: true });
});
ws.on('error', (e) => { report({ error: String(e) }); process.exit(1); });
