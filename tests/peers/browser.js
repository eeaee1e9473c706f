// Drives Debian's headless Chromium with playwright-core: opens a page and prints
// the JSON results it leaves in window.results, one per line.
//
//   node browser.js http://127.0.0.1:PORT/ [expression]
//
// The optional expression is evaluated in the page once window.done is true, and
// its value printed instead of window.results.
'use strict';
const { chromium } = require('playwright-core');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => process.stderr.write(`console: ${m.text()}\n`));
    await page.goto(process.argv[2]);
    await page.waitForFunction(() => window.done === true, null, { timeout: 60000 });
    const results = await page.evaluate(() => window.results);
    for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
    process.stdout.write(JSON.stringify({ done: true }) + '\n');
  } finally {
    await browser.close();
  }
})().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e.stack || e) }) + '\n'); process.exit(1); });
