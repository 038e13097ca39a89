// dashboard.mjs - check libtricolor-debug's live dashboard in headless Chromium.
//
//     node dashboard.mjs <url> <screenshot.png>
//
// No npm dependencies: it speaks the Chrome DevTools Protocol itself, over a pipe
// (--remote-debugging-pipe: chromium reads commands on its fd 3 and writes replies and events on
// its fd 4, each a JSON message ended by a NUL byte).  It loads the page, waits until every chart
// plots data, checks that the time series grow, takes a screenshot, and fails on any JavaScript
// exception or console.error on the page.
//
// The page's contract: each chart is <div class="chart" id="chart-NAME" data-points="N">, N the
// number of points it plots, and window.tricolorDashboard.points() returns {NAME: N, ...}.
//
// Exit status: 0 every check passed, 1 a check failed (or the 60 s overall timeout), 2 no chromium.
// CHROMIUM=/path/to/chromium overrides /usr/bin/chromium.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CHARTS = ['heap', 'alloc', 'pauses', 'cpu', 'gcs', 'scav', 'classes'];
const SERIES = ['heap', 'alloc', 'cpu', 'gcs', 'scav']; // one point per sample: must grow
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OVERALL_MS = 60000;
const READY_MS = 20000;
const POLL_MS = 250;
const MORE_MS = 3000;
const MIN_PNG = 10 * 1024;

const [url, shotPath] = process.argv.slice(2);
if (!url || !shotPath) {
  console.error('usage: node dashboard.mjs <url> <screenshot.png>');
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ok = (what) => console.log(`ok    ${what}`);
class CheckFailed extends Error {}
function check(cond, what, why) {
  if (!cond) throw new CheckFailed(`${what}${why ? `: ${why}` : ''}`);
  ok(what);
}
const show = (o) => JSON.stringify(o);

try {
  fs.accessSync(CHROMIUM, fs.constants.X_OK);
} catch {
  console.error(`FAIL  no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM=)`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Chromium and the protocol
// ---------------------------------------------------------------------------------------------

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tricolor-dashboard-'));
const browser = spawn(
  CHROMIUM,
  ['--headless=new', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe',
   `--user-data-dir=${profile}`, '--no-first-run', '--window-size=1280,1800', 'about:blank'],
  // Its own process group, so that killing the group ends the renderers and helpers too.
  { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true },
);
let stderrTail = '';
browser.stderr.on('data', (d) => { stderrTail = (stderrTail + d).slice(-4000); });
let browserExited = null;
browser.on('exit', (code, signal) => { browserExited = signal || code; failAll(new Error(`chromium exited (${browserExited})`)); });
browser.on('error', (e) => failAll(new Error(`chromium: ${e.message}`)));

const toChromium = browser.stdio[3];
const fromChromium = browser.stdio[4];
toChromium.on('error', () => {}); // reported through 'exit'
fromChromium.on('error', () => {});

let nextId = 1;
const pending = new Map(); // id -> {resolve, reject, method}
const listeners = [];      // {method, sessionId, fn}
let buffered = Buffer.alloc(0);

fromChromium.on('data', (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  for (let end; (end = buffered.indexOf(0)) >= 0;) {
    const text = buffered.subarray(0, end).toString('utf8');
    buffered = buffered.subarray(end + 1);
    let msg;
    try { msg = JSON.parse(text); } catch { continue; }
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      if (!p) continue;
      pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message} (${msg.error.code})`));
      else p.resolve(msg.result);
    } else {
      for (const l of listeners)
        if (l.method === msg.method && (l.sessionId === undefined || l.sessionId === msg.sessionId))
          l.fn(msg.params);
    }
  }
});

function failAll(err) {
  for (const p of pending.values()) p.reject(err);
  pending.clear();
}

function send(method, params = {}, sessionId = undefined) {
  if (browserExited !== null) return Promise.reject(new Error(`chromium exited (${browserExited})`));
  const id = nextId++;
  const msg = { id, method, params };
  if (sessionId) msg.sessionId = sessionId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, method });
    toChromium.write(JSON.stringify(msg) + '\0');
  });
}

function on(method, sessionId, fn) { listeners.push({ method, sessionId, fn }); }

function once(method, sessionId, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new CheckFailed(`no ${method} within ${ms / 1000} s`)), ms);
    on(method, sessionId, (params) => { clearTimeout(t); resolve(params); });
  });
}

let cleanedUp = false;
async function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  if (browserExited === null) {
    // Ask politely, then make sure: the whole process group.
    await Promise.race([send('Browser.close').catch(() => {}), sleep(1000)]);
    try { process.kill(-browser.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  try { fs.rmSync(profile, { recursive: true, force: true }); } catch { /* best effort */ }
}

function finish(status, message) {
  if (message) (status === 0 ? console.log : console.error)(message);
  // chromium's own complaints, less the D-Bus noise of a machine without a session bus.
  const tail = stderrTail.split('\n').slice(1).filter((l) => l.trim() && !/dbus|DBus/.test(l)).slice(-15);
  if (status !== 0 && tail.length) console.error(`--- chromium's stderr (tail) ---\n${tail.join('\n')}`);
  cleanup().finally(() => process.exit(status));
}

const overall = setTimeout(() => {
  finish(1, `FAIL  overall timeout: the test did not finish within ${OVERALL_MS / 1000} s`);
}, OVERALL_MS);

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

const pageErrors = []; // exceptions and console.error calls, as text

function pageErrorCheck() {
  check(pageErrors.length === 0, 'no JavaScript exception or console.error on the page',
    `\n        ${pageErrors.join('\n        ')}`);
}

async function main() {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });

  on('Runtime.exceptionThrown', sessionId, ({ exceptionDetails: d }) => {
    const desc = d.exception?.description || d.exception?.value || d.text;
    pageErrors.push(`exception: ${desc} (${d.url || 'inline'}:${d.lineNumber + 1}:${d.columnNumber + 1})`);
  });
  on('Runtime.consoleAPICalled', sessionId, ({ type, args }) => {
    if (type !== 'error') return;
    const text = args.map((a) => a.value ?? a.description ?? a.type).join(' ');
    pageErrors.push(`console.error: ${text}`);
  });
  // Network failures and the like: reported, not failed on (a missing favicon is no bug).
  on('Log.entryAdded', sessionId, ({ entry }) => {
    if (entry.level === 'error') console.log(`note  browser log: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
  });
  await send('Runtime.enable', {}, sessionId);
  await send('Log.enable', {}, sessionId);
  await send('Page.enable', {}, sessionId);

  const loaded = once('Page.loadEventFired', sessionId, 15000);
  const nav = await send('Page.navigate', { url }, sessionId);
  check(!nav.errorText, `loaded ${url}`, nav.errorText);
  await loaded;
  const st = await send('Runtime.evaluate', { expression:
    "performance.getEntriesByType('navigation')[0]?.responseStatus ?? 0", returnByValue: true }, sessionId);
  const status = st.result?.value;
  check(status === 200 || status === 0, `the page answered${status ? ` HTTP ${status}` : ''}`, 'not 200');

  // Both views of the counts, read in one task of the page so that they belong together.
  const readExpr = `(() => {
    const names = ${JSON.stringify(CHARTS)};
    const d = window.tricolorDashboard;
    const out = { api: null, apiError: null, attrs: {} };
    if (!d || typeof d.points !== 'function') out.apiError = 'window.tricolorDashboard.points is not a function';
    else { try { out.api = d.points(); } catch (e) { out.apiError = 'points() threw: ' + e; } }
    for (const n of names) {
      const el = document.getElementById('chart-' + n);
      out.attrs[n] = el ? { tag: el.tagName, chart: el.classList.contains('chart'),
                            points: el.getAttribute('data-points') } : null;
    }
    return out;
  })()`;

  async function readRaw() {
    const r = await send('Runtime.evaluate', { expression: readExpr, returnByValue: true, awaitPromise: true }, sessionId);
    if (r.exceptionDetails) throw new CheckFailed(`reading the counts threw: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
    return r.result.value;
  }

  // What is wrong with one reading, or null: the contract's shape, and the two views agreeing.
  function problem(v) {
    if (v.apiError) return v.apiError;
    if (!v.api || typeof v.api !== 'object') return `points() returned ${show(v.api)}, not an object`;
    for (const n of CHARTS) {
      const a = v.attrs[n];
      if (!a) return `no element #chart-${n}`;
      if (a.tag !== 'DIV' || !a.chart) return `#chart-${n} is a <${a.tag.toLowerCase()}>${a.chart ? '' : ' without class "chart"'}, not a <div class="chart">`;
      if (a.points === null || !/^\d+$/.test(a.points)) return `#chart-${n} has data-points=${show(a.points)}, not a count`;
      if (!Number.isInteger(v.api[n])) return `points().${n} is ${show(v.api[n])}, not an integer`;
      if (v.api[n] !== Number(a.points)) return `points().${n} = ${v.api[n]} but #chart-${n} data-points = ${a.points}`;
    }
    return null;
  }

  // A reading whose views agree; a disagreement may be a page caught between its two updates,
  // so it must last over four readings 100 ms apart to fail.
  async function read() {
    let v, why;
    for (let i = 0; i < 4; i++) {
      if (i) await sleep(100);
      v = await readRaw();
      if (!(why = problem(v))) return v.api;
    }
    throw new CheckFailed(`the page does not follow the contract: ${why}`);
  }

  // Wait until every chart plots something.
  const t0 = Date.now();
  let first;
  for (;;) {
    const v = await readRaw();
    const why = problem(v);
    if (!why && CHARTS.every((n) => v.api[n] > 0)) { first = await read(); break; }
    if (Date.now() - t0 > READY_MS) {
      if (why) throw new CheckFailed(`the page does not follow the contract after ${READY_MS / 1000} s: ${why}`);
      const empty = CHARTS.filter((n) => !(v.api[n] > 0));
      throw new CheckFailed(`charts still empty after ${READY_MS / 1000} s: ${empty.join(', ')} (counts ${show(v.api)})`);
    }
    await sleep(POLL_MS);
  }
  ok(`every chart plots data after ${((Date.now() - t0) / 1000).toFixed(1)} s; data-points agree with points(): ${show(first)}`);
  pageErrorCheck();

  await sleep(MORE_MS);
  const second = await read();
  ok(`${MORE_MS / 1000} s later (data-points agree): ${show(second)}`);

  for (const n of SERIES)
    check(second[n] > first[n], `${n}: the time series grew (${first[n]} -> ${second[n]})`,
      `no new points in ${MORE_MS / 1000} s (a page that caps its window below the points it has must still leave room to grow here)`);
  check(second.pauses > first.pauses, `pauses grew (${first.pauses} -> ${second.pauses})`,
    `no new pause in ${MORE_MS / 1000} s. The pauses chart only grows when collections happen; ` +
    'the demo (examples/dashboard) collects several times a second, so this test requires growth: ' +
    'either the demo stopped collecting or the page does not plot new pauses');
  check(second.classes > 0, `classes: ${second.classes} size classes plotted`);

  const shot = await send('Page.captureScreenshot', { format: 'png' }, sessionId);
  const png = Buffer.from(shot.data, 'base64');
  fs.writeFileSync(shotPath, png);
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  check(png.length >= 8 && png.subarray(0, 8).equals(sig), `screenshot ${shotPath} is a PNG`,
    `it starts with ${png.subarray(0, 8).toString('hex')}`);
  check(png.length > MIN_PNG, `screenshot is ${(png.length / 1024).toFixed(1)} KiB (> ${MIN_PNG / 1024} KiB)`,
    `${png.length} bytes: an empty-looking page`);

  pageErrorCheck();
}

main().then(
  () => { clearTimeout(overall); finish(0, 'PASS  dashboard'); },
  (e) => {
    clearTimeout(overall);
    const msg = e instanceof CheckFailed ? e.message : `error: ${e.message}`;
    if (pageErrors.length && !msg.includes(pageErrors[0]))
      console.error(`note  the page also reported:\n        ${pageErrors.join('\n        ')}`);
    finish(1, `FAIL  ${msg}`);
  },
);
