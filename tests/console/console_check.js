// The console in a real browser against a real dispatchd (ctest `console.browser`).
// Usage: node console_check.js DISPATCHD CHROMIUM SCREENSHOT_DIR
// It starts a loopback webhook that stands in for the Task Service (switchable between answering
// 200 and refusing with 400), a dispatchd with a token and its task sink pointed at that webhook,
// then uses the page as an operator would: enters the token, creates a dispatcher in the form
// (meeting the API's validation errors beside their fields first), watches a delivery arrive,
// turns the webhook to refusing, sees the dead letters, replays one and then the rest from the
// page, and visits every view, saving a screenshot of each.
'use strict';

const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const [dispatchdPath, chromiumPath, shotDir] = process.argv.slice(2);
const token = 'console-check-token';
const deadline = Date.now() + 55000;

// ------------------------------------------------------------------ the webhook (Task Service)

const webhook = { failing: false, received: [] };
const webhookServer = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    webhook.received.push({ path: req.url, key: req.headers['idempotency-key'], failing: webhook.failing, body });
    res.writeHead(webhook.failing ? 400 : 200, { 'Content-Type': 'application/json' });
    res.end(webhook.failing ? '{"message":"refused by the console check"}' : '{"status":"new"}');
  });
});

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

// ------------------------------------------------------------------ dispatchd

let dispatchd = null;
let dispatchdLog = '';

async function startDispatchd(webhookPort) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dispatch-console-'));
  dispatchd = spawn(dispatchdPath, [
    `--dispatch.data-dir=${dataDir}/data`, '--dispatch.http.port=0', `--dispatch.http.tokens=[${token}]`,
    `--dispatch.sinks.task.url=http://127.0.0.1:${webhookPort}`, '--dispatch.retry.initial=200',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  dispatchd.dataDir = dataDir;
  dispatchd.stderr.on('data', (chunk) => { dispatchdLog += chunk; });
  const port = await until('dispatchd listening', () => {
    const m = /http: listening on 127\.0\.0\.1:(\d+)/.exec(dispatchdLog);
    return m && Number(m[1]);
  }, 10000);
  return port;
}

// Stops a dispatchd with SIGTERM: it must exit 0 (a clean shutdown). One that exited already is
// not waited for (the step that met it failed already). Its data directory goes either way.
function stopChild(child, dataDir, what) {
  const removeData = () => fs.rmSync(dataDir, { recursive: true, force: true });
  if (child.exitCode !== null || child.signalCode !== null) {
    removeData();
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      removeData();
      if (code === 0) resolve();
      else reject(new Error(`${what} exited with ${signal ? `signal ${signal}` : `code ${code}`} after SIGTERM`));
    });
    child.kill('SIGTERM');
  });
}

function stopDispatchd() {
  if (!dispatchd) return Promise.resolve();
  const child = dispatchd;
  dispatchd = null;
  return stopChild(child, child.dataDir, 'dispatchd');
}

// A two-node cluster on loopback (no token, no TLS), for the Cluster view.
const clusterNodes = [];

// True when `port` can be listened on at 127.0.0.1 now (bound and released at once).
function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

// A port for a cluster listener that is free now and not one of `taken`. Below the ephemeral
// range, so that no outgoing connection takes it before the node binds it.
async function freeClusterPort(taken) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (!taken.includes(port) && await portIsFree(port)) return port;
  }
  throw new Error('no free port for a cluster listener in 20000-29999 after 100 tries');
}

async function startCluster() {
  const secret = Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
  const ports = [];
  ports.push(await freeClusterPort(ports));
  ports.push(await freeClusterPort(ports));
  for (const id of [1, 2]) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `dispatch-console-node${id}-`));
    const other = 3 - id;
    const child = spawn(dispatchdPath, [
      `--dispatch.data-dir=${dataDir}/data`, '--dispatch.http.port=0', '--dispatch.http.host=127.0.0.1',
      `--dispatch.cluster.node=${id}`, `--dispatch.cluster.listen=127.0.0.1:${ports[id - 1]}`,
      `--dispatch.cluster.peers=["${other}@127.0.0.1:${ports[other - 1]}"]`, `--dispatch.cluster.secret=${secret}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const node = { child, dataDir, log: '', port: 0 };
    child.stderr.on('data', (chunk) => { node.log += chunk; });
    clusterNodes.push(node);
  }
  for (const node of clusterNodes) {
    node.port = await until('a cluster node listening', () => {
      const m = /http: listening on 127\.0\.0\.1:(\d+)/.exec(node.log);
      return m && Number(m[1]);
    }, 15000).catch((err) => { throw new Error(`${err.message}\n--- cluster node log\n${node.log}`); });
  }
  return clusterNodes;
}

function stopCluster() {
  return Promise.all(clusterNodes.splice(0).map((node, i) => stopChild(node.child, node.dataDir, `cluster node ${i + 1}`)));
}

// ------------------------------------------------------------------ helpers

async function until(what, condition, timeoutMs = 10000) {
  const end = Math.min(Date.now() + timeoutMs, deadline);
  let last;
  while (Date.now() < end) {
    last = await condition();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let base = '';
let currentPage = null; // for a screenshot of the failure
async function apiCall(method, target, body) {
  const res = await fetch(base + target, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert.strictEqual(res.status, 200, `${method} ${target}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const screenshots = [];
async function screenshot(page, name) {
  const file = path.join(shotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  screenshots.push(file);
}

// Text of the first element matching `selector`, or '' (hidden ones included).
const textOf = (page, selector) => page.$eval(selector, (e) => e.textContent).catch(() => '');
const visible = (page, selector) => page.$eval(selector, (e) => !e.hidden && e.offsetParent !== null).catch(() => false);

async function fill(page, selector, value) {
  await page.$eval(selector, (e) => { e.value = ''; });
  if (value) await page.type(selector, value);
}

async function go(page, view) {
  await page.evaluate((v) => { location.hash = `#/${v}`; }, view);
  await until(`the ${view} view`, () => visible(page, `#view-${view}`));
}

// ------------------------------------------------------------------ the steps

async function run() {
  const webhookPort = await listen(webhookServer);
  const port = await startDispatchd(webhookPort);
  base = `http://127.0.0.1:${port}`;
  console.log(`dispatchd on ${base}, task webhook on 127.0.0.1:${webhookPort}`);

  const browser = await puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  let failed = true;
  const pageErrors = [];
  try {
    const page = await browser.newPage();
    currentPage = page;
    if (process.env.CONSOLE_DEBUG) page.on('request', (r) => { if (r.method() !== 'GET') console.log('request', r.method(), r.url(), r.postData()); });
    page.on('pageerror', (err) => pageErrors.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      // Chromium logs every 4xx answer (the 401 before the token, the validation errors the
      // steps provoke); any other error is a defect (a script error, a policy violation).
      if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text()))
        pageErrors.push(`console error: ${msg.text()}`);
    });
    await page.setViewport({ width: 1280, height: 900 });

    // 1. The page is served without a token and asks for one for the API.
    const res = await page.goto(`${base}/console/`, { waitUntil: 'load' });
    assert.strictEqual(res.status(), 200);
    await until('the token dialog', () => page.$eval('#token-dialog', (d) => d.open));
    await page.type('#token-input', token);
    await page.keyboard.press('Enter');
    await until('the token dialog to close', async () => !(await page.$eval('#token-dialog', (d) => d.open)));
    assert.strictEqual(await page.evaluate(() => sessionStorage.getItem('dispatchd.console.token')), token);
    await until('health ok', async () => (await textOf(page, '#health')) === 'health: ok');
    console.log('step: token entered, health ok');

    // 2. A dispatcher made in the form; the API's validation errors show beside their fields.
    await go(page, 'dispatchers');
    await page.click('#dispatcher-new');
    await page.click('#add-task');
    await page.click('#dispatcher-save');
    const eventTypeError = await until('the eventType error', async () =>
      (await visible(page, '[data-error-for="eventType"]')) && textOf(page, '[data-error-for="eventType"]'));
    assert.match(eventTypeError, /^eventType: /);
    assert.strictEqual(await page.$eval('[data-field="eventType"]', (e) => e.getAttribute('aria-invalid')), 'true');
    await fill(page, '[data-field="eventType"]', 'console_check');
    await fill(page, '[data-field="name"]', 'console check');
    await page.click('#dispatcher-save');
    const functionError = await until('the functionName error', async () =>
      (await visible(page, '[data-error-for="actions[0].functionName"]')) && textOf(page, '[data-error-for="actions[0].functionName"]'));
    assert.match(functionError, /^actions\[0\]\.functionName: /);
    assert.ok(!(await visible(page, '[data-error-for="eventType"]')), 'the fixed field keeps no error');
    await fill(page, '[data-field="actions[0].functionName"]', 'console-check-fn');
    await fill(page, '[data-field="actions[0].data"]', '{"source":"console"}');
    await page.click('#dispatcher-save');
    await until('the saved notice', async () => /^Saved console check/.test(await textOf(page, '#dispatcher-notice')));
    await until('the dispatcher in the list', async () => /console check/.test(await textOf(page, '#dispatcher-list')));
    const stored = await apiCall('GET', '/dispatchers/v1/?eq(name,console%20check)');
    assert.strictEqual(stored.page.total, 1);
    assert.strictEqual(stored.data[0].actions[0].functionName, 'console-check-fn');
    assert.deepStrictEqual(stored.data[0].actions[0].data, { source: 'console' });
    console.log('step: dispatcher created in the form after two validation errors shown beside their fields');
    // Edited in the form: a malformed content filter is refused beside its field (nothing is
    // stored), then the description is saved without it.
    await page.click('#dispatcher-list button[aria-label="Edit console check"]');
    await until('the editor', async () => /^Edit console check/.test(await textOf(page, '#dispatcher-form-title')));
    await fill(page, '[data-field="description"]', 'made by the console check');
    await fill(page, '[data-field="filter"]', 'eq(content.n');
    await page.click('#dispatcher-save');
    const filterError = await until('the filter error', async () =>
      (await visible(page, '[data-error-for="filter"]')) && textOf(page, '[data-error-for="filter"]'));
    assert.match(filterError, /^filter: /);
    assert.strictEqual(await page.$eval('[data-field="filter"]', (e) => e.getAttribute('aria-invalid')), 'true');
    const refused = await apiCall('GET', `/dispatchers/v1/${stored.data[0].id}`);
    assert.strictEqual(refused.description, undefined, 'a refused edit stores nothing');
    await fill(page, '[data-field="filter"]', '');
    await page.click('#dispatcher-save');
    await until('the saved notice', async () => /^Saved console check/.test(await textOf(page, '#dispatcher-notice')));
    const edited = await apiCall('GET', `/dispatchers/v1/${stored.data[0].id}`);
    assert.strictEqual(edited.description, 'made by the console check');
    assert.strictEqual(edited.filter, undefined);
    await screenshot(page, 'dispatchers');
    console.log('step: dispatcher edited; the malformed filter was refused beside its field');

    // 3. An event published through the API; its delivery appears in the Deliveries view.
    const first = await apiCall('POST', '/events/v1/', { type: 'console_check', content: { n: 1 } });
    await go(page, 'deliveries');
    await until('the delivered delivery', () => page.$('#delivery-list tr[data-status="delivered"]'));
    assert.ok(webhook.received.some((r) => r.body.includes(first.id)), 'the webhook got the task');
    console.log('step: delivery of the first event seen delivered');

    // 4. The webhook refuses (400: a permanent failure): two dead letters show up.
    webhook.failing = true;
    await apiCall('POST', '/events/v1/', { type: 'console_check', content: { n: 2 } });
    await apiCall('POST', '/events/v1/', { type: 'console_check', content: { n: 3 } });
    await page.select('#delivery-filter select[name=status]', 'dead');
    await until('two dead letters', async () => (await page.$$('#delivery-list tr[data-status="dead"]')).length === 2);
    assert.match(await textOf(page, '#delivery-list'), /HTTP 400/);
    await page.click('#delivery-list tr[data-status="dead"] td button'); // the details of one
    await until('its details', () => page.$('#delivery-list tr.details'));
    await screenshot(page, 'deliveries');
    console.log('step: two dead letters shown with their last error');

    // 5. The webhook accepts again: one dead letter replayed from its row, the other with
    // "replay the dead letters of this filter" (a count, then a confirmation).
    webhook.failing = false;
    await page.click('#delivery-list tr[data-status="dead"] button[data-action="replay"]');
    await until('the replay notice', async () => /re-queued/.test(await textOf(page, '#delivery-message')));
    await until('one dead letter left', async () => (await page.$$('#delivery-list tr[data-status="dead"]')).length === 1);
    await page.click('#replay-all');
    await until('the confirmation', () => page.$eval('#confirm-dialog', (d) => d.open));
    assert.match(await textOf(page, '#confirm-text'), /^Replay 1 dead letter matching/);
    await page.click('#confirm-ok');
    await until('the bulk replay notice', async () => /^1 dead letter re-queued/.test(await textOf(page, '#delivery-message')));
    await page.select('#delivery-filter select[name=status]', '');
    await until('every delivery delivered', async () => (await page.$$('#delivery-list tr[data-status="delivered"]')).length === 3);
    const delivered = webhook.received.filter((r) => !r.failing).length;
    assert.strictEqual(delivered, 3, 'the first event and both replays reached the webhook');
    console.log('step: both dead letters replayed from the page and delivered');

    // 6. Events: the listing and a replay from the archive, started from the form and followed.
    for (let n = 0; n < 20; n++) await apiCall('POST', '/events/v1/', { type: 'console_check', content: { n: 10 + n, plan: n % 2 ? 'pro' : 'free' } });
    await go(page, 'events');
    await until('the event listing', async () => /Id|No event matches/.test(await textOf(page, '#event-list')));
    await until('the empty replays listing', async () => /No replay yet/.test(await textOf(page, '#replay-list')));
    await page.click('#replay-form button[type=submit]');
    const started = await until('the replay answer', async () =>
      (await visible(page, '#replay-form [data-error-for=""]')) && textOf(page, '#replay-form [data-error-for=""]'));
    assert.match(started, /^Replay [0-9a-f]{24} started/);
    const replayId = /^Replay ([0-9a-f]{24})/.exec(started)[1];
    await until('the replay in the list', () => page.$(`#replay-list tr[data-id="${replayId}"]`));
    console.log('step: events view; a replay from the archive started and is followed');
    await screenshot(page, 'events');

    // 7. Cluster: this node runs alone, and says so; the console of a node of a two-node cluster
    // shows both members up, with the coordinator.
    await go(page, 'cluster');
    await until('the single-node message', async () => /runs alone/.test(await textOf(page, '#cluster-body')));
    const nodes = await startCluster();
    const clusterPage = await browser.newPage();
    await clusterPage.setViewport({ width: 1280, height: 900 });
    clusterPage.on('pageerror', (err) => pageErrors.push(`cluster page error: ${err.message}`));
    await clusterPage.goto(`http://127.0.0.1:${nodes[0].port}/console/#/cluster`, { waitUntil: 'load' });
    await until('the peer up', () => clusterPage.$('#cluster-body tr[data-peer="2"] .badge.up'), 15000);
    assert.match(await textOf(clusterPage, '#cluster-body'), /Coordinator1 · this node/);
    await screenshot(clusterPage, 'cluster');
    await clusterPage.close();
    console.log('step: cluster view of a two-node cluster, its peer up');

    // 8. Overview: live charts with what happened, at 1280 and at 1920 px.
    await go(page, 'overview');
    await until('the tiles', async () => /Dead letters/.test(await textOf(page, '#tiles')));
    const dead = await page.$$eval('#tiles .tile', (tiles) => tiles.map((t) => t.textContent).find((t) => t.startsWith('Dead letters')));
    assert.match(dead, /Dead letters \(total\)2$/);
    const stats = await page.evaluate(() => window.dispatchConsole.quantile(0.5, [[0.1, 0], [Infinity, 0]], [[0.1, 10], [Infinity, 10]]));
    assert.ok(Math.abs(stats - 0.05) < 1e-9, 'the median of ten observations in [0, 0.1] is 0.05');
    await screenshot(page, 'overview');
    await page.setViewport({ width: 1920, height: 1080 });
    await new Promise((r) => setTimeout(r, 300)); // one frame for the charts to redraw at the new width
    await screenshot(page, 'overview-1920');

    // 9. Keyboard: the views are reachable with Tab from the top of the page.
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    const reached = new Set();
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      const nav = await page.evaluate(() => document.activeElement && document.activeElement.dataset.nav);
      if (nav) reached.add(nav);
    }
    assert.deepStrictEqual([...reached].sort(), ['cluster', 'deliveries', 'dispatchers', 'events', 'overview']);

    assert.deepStrictEqual(pageErrors, [], 'the page logged no error');
    failed = false;
  } catch (err) {
    if (pageErrors.length) err.message += `\n${pageErrors.join('\n')}`;
    throw err;
  } finally {
    if (failed && currentPage) await screenshot(currentPage, 'failure').catch(() => {});
    await browser.close();
  }
}

run()
  .then(async () => {
    await stopCluster();
    await stopDispatchd();
    webhookServer.close();
    console.log('screenshots:');
    for (const file of screenshots) console.log(`  ${file}`);
    console.log('console check passed');
    process.exit(0);
  })
  .catch(async (err) => {
    console.error(`console check FAILED: ${err.stack || err}`);
    if (screenshots.length) console.error(`screenshots so far: ${screenshots.join(' ')}`);
    console.error(`--- dispatchd log\n${dispatchdLog}`);
    await stopCluster().catch((e) => console.error(e.message));
    await stopDispatchd().catch((e) => console.error(e.message));
    process.exit(1);
  });
