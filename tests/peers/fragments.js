// Node's `ws` receiving our fragmented messages, for the streaming-send tests.
//
//   node fragments.js [--deflate]
//
// Same protocol as fragments.py: serves one connection on 127.0.0.1 (accepting
// permessage-deflate with --deflate), prints {"listening": PORT}; for each
// message prints {"len": N, "binary": BOOL, "extensions": ...} and sends it
// back whole as binary; prints {"closed": CODE} when the client closes. `ws`
// joins the fragments itself, so it reports no frame count.
'use strict';
const { WebSocketServer } = require('ws');

const DEFLATE = process.argv.includes('--deflate');

function report(fields) {
  process.stdout.write(JSON.stringify(fields) + '\n');
}

const server = new WebSocketServer(
  { host: '127.0.0.1', port: 0, perMessageDeflate: DEFLATE, maxPayload: 64 << 20 },
  () => report({ listening: server.address().port }),
);
server.on('connection', (ws, request) => {
  const accepted = ws.extensions || null;
  ws.on('message', (data, isBinary) => {
    report({ len: data.length, binary: isBinary, extensions: accepted || null });
    ws.send(data, { binary: true });
  });
  ws.on('close', (code) => {
    report({ closed: code });
    server.close();
    process.exit(0);
  });
});
