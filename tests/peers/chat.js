// Two headless Chromium pages in the chat example's room: each says something and
// must see what the other said. Prints JSON lines like the other peers.
//
//   node chat.js http://127.0.0.1:PORT/ [http://127.0.0.1:OTHER/]
//
// With two URLs the pages are on two chat processes (joined through Redis).
'use strict';
const { chromium } = require('playwright-core');

const report = (r) => process.stdout.write(JSON.stringify(r) + '\n');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const pages = [await browser.newPage(), await browser.newPage()];
    const urls = [process.argv[2], process.argv[3] || process.argv[2]];
    for (const [i, page] of pages.entries()) {
      await page.goto(urls[i]);
      await page.waitForFunction(() => document.getElementById('status').textContent === 'connected', null, { timeout: 20000 });
    }
    report({ step: 'both-connected', ok: true, detail: '' });
    const lines = ['hello from the first page', 'and hello from the second'];
    for (const [i, line] of lines.entries()) {
      const [speaker, listener] = i === 0 ? pages : [pages[1], pages[0]];
      await speaker.fill('#line', line);
      await speaker.press('#line', 'Enter');
      await listener.waitForFunction((l) => document.getElementById('log').textContent.includes(l), line, { timeout: 20000 });
      report({ step: `seen-by-the-other-page-${i + 1}`, ok: true, detail: line });
    }
    report({ done: true });
  } finally {
    await browser.close();
  }
})().catch((e) => { report({ error: String(e.stack || e) }); process.exit(1); });
