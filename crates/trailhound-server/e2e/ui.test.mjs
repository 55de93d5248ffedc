// End-to-end test of the web UI in headless Chromium: sign in, filter alerts, open one,
// acknowledge it, pivot to its principal, search (full text and SQL), open the overview.
// Screenshots go to $ARTIFACTS. Run through run.sh, which builds the store and the server.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const base = process.env.BASE_URL;
const token = readFileSync(process.env.TOKEN_FILE, 'utf8').trim();
const artifacts = process.env.ARTIFACTS;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
assert.ok(base && token && artifacts, 'BASE_URL, TOKEN_FILE and ARTIFACTS are required');
mkdirSync(artifacts, { recursive: true });

const profile = mkdtempSync(join(tmpdir(), 'trailhound-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1400, height: 1000 },
});
const page = context.pages()[0] || await context.newPage();
const problems = [];
page.on('console', (msg) => { if (msg.type() === 'error') problems.push(msg.text()); });
page.on('pageerror', (err) => problems.push(String(err)));
const timings = {};
// Full-page screenshots take hundreds of milliseconds on long pages: their time is kept out of
// the step timings, which measure what a user waits for (clicks, requests, rendering).
let shotMs = 0;
const shot = async (name) => {
  const started = Date.now();
  await page.screenshot({ path: join(artifacts, name + '.png'), fullPage: true });
  shotMs += Date.now() - started;
};
async function step(name, fn) {
  shotMs = 0;
  const started = Date.now();
  try {
    await fn();
  } catch (e) {
    await shot('FAILED-' + name).catch(() => {});
    throw new Error(`step ${name}: ${e.message}`);
  }
  timings[name] = Date.now() - started - shotMs;
  console.log(`ok  ${name} (${timings[name]} ms)`);
}

let severity, eventName;
try {
  await step('login', async () => {
    await page.goto(base + '/');
    await page.waitForURL(/\/login$/);
    await shot('01-login');
    await page.fill('#token', 'not-the-token-at-all');
    await page.click('button[type=submit]');
    await page.waitForSelector('#login-error:text("Wrong access token.")');
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForSelector('table.alerts tbody tr');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'trailhound_session');
    assert.ok(session && session.httpOnly && session.sameSite === 'Strict', 'HttpOnly SameSite=Strict cookie');
    assert.ok(!page.url().includes(token), 'no token in the URL');
  });

  await step('alerts-list', async () => {
    await page.waitForSelector('#live.on');
    const total = await page.textContent('#total');
    assert.match(total, /^\d+ alerts$/);
    severity = (await page.textContent('table.alerts tbody tr:first-child .sev')).trim();
    await shot('02-alerts');
  });

  await step('filter', async () => {
    await page.selectOption('select[name=severity]', severity);
    await page.waitForURL(new RegExp('severity=' + severity));
    await page.waitForFunction((s) => {
      const cells = [...document.querySelectorAll('table.alerts tbody .sev')];
      return cells.length > 0 && cells.every((c) => c.textContent === s);
    }, severity);
    await page.selectOption('select[name=status]', 'open');
    await page.waitForURL(/status=open/);
    // The previous list stays on screen until the new answer arrives: wait for the new one.
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('table.alerts tbody [data-status]')];
      return cells.length > 0 && cells.every((c) => c.dataset.status === 'open');
    });
    const statuses = await page.$$eval('table.alerts tbody [data-status]', (els) => els.map((e) => e.dataset.status));
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 'open'), 'only open alerts: ' + statuses);
    await shot('03-filtered');
  });

  let alertId;
  await step('open-alert', async () => {
    alertId = await page.getAttribute('table.alerts tbody tr:first-child', 'data-alert');
    await page.click('table.alerts tbody tr:first-child a.alert-link');
    await page.waitForSelector('#alert-title');
    await page.waitForSelector('#why');
    const events = await page.$$('details.event');
    assert.ok(events.length > 0, 'the events behind the alert are shown');
    await page.waitForSelector('details.event[open] pre.raw .json-key');
    eventName = await page.$eval('details.event[open] pre.raw', (pre) => JSON.parse(pre.textContent).eventName);
    assert.ok(await page.$('pre.raw .hl'), 'matched fields are highlighted');
    assert.ok(await page.$('svg.chart'), 'timeline chart');
    await shot('04-alert');
  });

  await step('acknowledge', async () => {
    await page.fill('#analyst', 'e2e-analyst');
    await page.dispatchEvent('#analyst', 'change');
    await page.fill('#note', 'looking into it');
    await page.click('#ack');
    await page.waitForSelector('#action-result:text("Saved: acknowledge")');
    const history = await page.textContent('#history');
    assert.match(history, /e2e-analyst · acknowledge — looking into it/);
    const status = await page.evaluate(async (id) => (await (await fetch('/api/alerts/' + id)).json()).triage.status, alertId);
    assert.equal(status, 'acknowledged');
    await shot('05-acknowledged');
  });

  await step('pivot-principal', async () => {
    await page.click('#entity a[data-pivot=principal]');
    await page.waitForSelector('#pivot-title');
    await page.waitForSelector('table.events tbody tr');
    assert.ok(await page.$('svg.chart rect.bar'), 'pivot timeline chart has bars');
    assert.ok((await page.$$('ol.bars li')).length > 0, 'top APIs, regions, sources');
    await shot('06-pivot');
  });

  await step('search-text', async () => {
    await page.click('a[data-nav=search]');
    await page.waitForSelector('#q');
    await page.fill('#q', eventName);
    await page.press('#q', 'Enter');
    await page.waitForSelector('#results table.events tbody tr');
    const names = await page.$$eval('#results table.events tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
    assert.ok(names.length > 0 && names.some((n) => n.endsWith(':' + eventName)), 'search finds ' + eventName);
    await shot('07-search');
  });

  await step('search-sql', async () => {
    await page.click('button[data-tab=sql]');
    await page.waitForSelector('#sql');
    await page.fill('#sql', "SELECT status, count(*) AS n FROM alerts GROUP BY 1 ORDER BY 1");
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#results table.sql tbody tr');
    const text = await page.textContent('#results table.sql');
    assert.match(text, /acknowledged/);
    await shot('08-sql');
  });

  await step('overview', async () => {
    await page.click('a[data-nav=overview]');
    await page.waitForSelector('#ingest');
    assert.ok(await page.$('svg.chart rect.bar'), 'charts drawn');
    await shot('09-overview');
  });

  const csp = problems.filter((p) => /Content Security Policy|Refused to/i.test(p));
  assert.deepEqual(csp, [], 'no Content-Security-Policy violations');
  const errors = problems.filter((p) => !/Failed to load resource/.test(p));
  assert.deepEqual(errors, [], 'no script errors');
  console.log('timings (ms):', JSON.stringify(timings));
  console.log(`screenshots in ${artifacts}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
