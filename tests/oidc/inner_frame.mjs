// A real-browser test driver for the gateway's identity inner frame (spec §6.5), used by
// tests/inner_frame.rs:
//
//   node inner_frame.mjs <gateway base URL> [username] [password]
//   (or GATEWAY_URL, INNER_FRAME_USERNAME, INNER_FRAME_PASSWORD in the environment; defaults
//   alice / correct horse)
//
// It serves an outer-frame page from a node `http` server on 127.0.0.1:0 (an origin other than
// the gateway's) that embeds `<gateway>/identity/v1/inner-frame`, answers the inner frame's
// `identity-access-window` with `identity-access-start` (outerFrameURL = the page's own URL, and a
// reloginKey when the page URL's query has one) and records every message it receives in
// `window.__messages`. Debian's Chromium (/usr/bin/chromium, driven by playwright-core; no browser
// is ever downloaded) then runs three scenarios in fresh pages:
//
//   login          fill username/password in the frame, submit, wait for identity-access-complete
//   relogin        the reloginKey of that completion: a silent re-login, no form
//   wrongPassword  a wrong password: the frame shows its error text and completes nothing
//
// Prints ONE JSON line on stdout: {"outerOrigin", "login":{messages}, "relogin":{messages},
// "wrongPassword":{messages, errorText}}, each message {origin, data (parsed)}. Exits 1 with a
// message on stderr on any failure.

import http from 'node:http';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 15_000;
const OVERALL_TIMEOUT_MS = 90_000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function fail(message) {
  process.stderr.write(`inner_frame.mjs: ${message}\n`);
  process.exit(1);
}

const gateway = (process.argv[2] || process.env.GATEWAY_URL || '').replace(/\/+$/, '');
if (!/^https?:\/\//.test(gateway)) fail('usage: node inner_frame.mjs <gateway base URL>');
const username = process.argv[3] || process.env.INNER_FRAME_USERNAME || 'alice';
const password = process.argv[4] || process.env.INNER_FRAME_PASSWORD || 'correct horse';
const gatewayOrigin = new URL(gateway).origin;
const innerFrameURL = `${gateway}/identity/v1/inner-frame`;

function outerPage() {
  // The listener is registered before the iframe exists, so the first identity-access-window
  // cannot be missed.
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>outer frame</title>
<script>
"use strict";
window.__messages = [];
const innerOrigin = ${JSON.stringify(gatewayOrigin)};
let started = false, counter = 0;
window.addEventListener("message", (event) => {
  let data;
  try { data = JSON.parse(event.data); } catch (_) { data = { unparsed: String(event.data) }; }
  window.__messages.push({ origin: event.origin, data });
  const frame = document.getElementById("inner").contentWindow;
  if (event.source !== frame || event.origin !== innerOrigin) return;
  const request = data.request;
  if (!request || request["$method"] !== "identity-access-window") return;
  // identity-access-window is a request (C13/C14, HF.js): answer it with an empty result.
  frame.postMessage(JSON.stringify({ result: { "$domain": request["$domain"], "$id": request["$id"],
    "$handler": "identity", "$method": "identity-access-window" } }), innerOrigin);
  if (started) return;
  started = true;
  const reloginKey = new URLSearchParams(location.search).get("reloginKey");
  frame.postMessage(JSON.stringify({ notify: {
    "$domain": "localhost", "$id": "outer-" + (++counter), "$handler": "identity",
    "$method": "identity-access-start",
    agent: { userAgent: "openpeer-gateway-test/1", name: "inner frame test", image: "", url: location.href },
    identity: reloginKey ? { reloginKey } : { base: "identity://localhost/" },
    browser: { visibility: "visible-on-demand", popup: "allow", outerFrameURL: location.href },
  } }), innerOrigin);
});
</script></head>
<body><iframe id="inner" src=${JSON.stringify(innerFrameURL)} width="600" height="400"></iframe></body></html>`;
}

const server = http.createServer((req, res) => {
  if (new URL(req.url, 'http://x').pathname === '/outer') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(outerPage());
  } else {
    res.writeHead(404);
    res.end();
  }
});

let browser;
const overall = setTimeout(() => {
  process.stderr.write(`inner_frame.mjs: gave up after ${OVERALL_TIMEOUT_MS} ms\n`);
  Promise.resolve(browser && browser.close()).finally(() => process.exit(1));
}, OVERALL_TIMEOUT_MS);

const isComplete = (m) => m.data && m.data.notify && m.data.notify['$method'] === 'identity-access-complete';

async function messages(page) {
  return page.evaluate(() => window.__messages);
}

async function waitForMessage(page, what, predicateSource) {
  try {
    await page.waitForFunction(
      (source) => window.__messages.some(new Function('m', `return (${source})(m);`)),
      predicateSource,
      { timeout: STEP_TIMEOUT_MS, polling: 50 },
    );
  } catch (e) {
    throw new Error(`no ${what} within ${STEP_TIMEOUT_MS} ms; messages so far: ${JSON.stringify(await messages(page))}`);
  }
}

const COMPLETE_SOURCE = `(m) => m.data && m.data.notify && m.data.notify["$method"] === "identity-access-complete"`;
const VISIBLE_WINDOW_SOURCE = `(m) => m.data && m.data.request && m.data.request["$method"] === "identity-access-window" && m.data.request.browser && m.data.request.browser.visibility === true`;

async function run() {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const outer = `http://127.0.0.1:${server.address().port}/outer`;
  if (new URL(outer).origin === gatewayOrigin) throw new Error('the outer page must not share the gateway origin');

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const context = await browser.newContext();
  const result = { outerOrigin: new URL(outer).origin };
  const pageErrors = [];
  const newPage = async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    return page;
  };

  // 1. Login through the form.
  let page = await newPage();
  await page.goto(outer);
  let frame = page.frameLocator('#inner');
  await frame.locator('#username').fill(username, { timeout: STEP_TIMEOUT_MS });
  await frame.locator('#password').fill(password, { timeout: STEP_TIMEOUT_MS });
  await frame.locator('#local button').click({ timeout: STEP_TIMEOUT_MS });
  await waitForMessage(page, 'identity-access-complete after the form login', COMPLETE_SOURCE);
  result.login = { messages: await messages(page) };
  await page.close();
  const completion = result.login.messages.find(isComplete);
  const reloginKey = completion.data.notify.identity && completion.data.notify.identity.reloginKey;
  if (!reloginKey) throw new Error(`the completion has no reloginKey: ${JSON.stringify(completion)}`);

  // 2. Silent re-login: no form is touched.
  page = await newPage();
  await page.goto(`${outer}?reloginKey=${encodeURIComponent(reloginKey)}`);
  await waitForMessage(page, 'identity-access-complete after the relogin', COMPLETE_SOURCE);
  result.relogin = {
    messages: await messages(page),
    formShown: await page.frameLocator('#inner').locator('#local').isVisible(),
  };
  await page.close();

  // 3. Wrong password: the error text shows, and the frame asks to be visible again instead of
  // completing (complete() does one or the other for each answer).
  page = await newPage();
  await page.goto(outer);
  frame = page.frameLocator('#inner');
  await frame.locator('#username').fill(username, { timeout: STEP_TIMEOUT_MS });
  await frame.locator('#password').fill(`${password} but wrong`, { timeout: STEP_TIMEOUT_MS });
  await frame.locator('#local button').click({ timeout: STEP_TIMEOUT_MS });
  const error = frame.locator('#error');
  try {
    await error.filter({ hasText: /\S/ }).waitFor({ timeout: STEP_TIMEOUT_MS });
  } catch (e) {
    throw new Error(`no error text after a wrong password; messages: ${JSON.stringify(await messages(page))}`);
  }
  // The window request that follows the error (the second visible one), then a short grace for
  // any stray completion.
  try {
    await page.waitForFunction(
      (source) => window.__messages.filter(new Function('m', `return (${source})(m);`)).length >= 2,
      VISIBLE_WINDOW_SOURCE,
      { timeout: STEP_TIMEOUT_MS, polling: 50 },
    );
  } catch (e) {
    throw new Error(`no identity-access-window after the refusal; messages: ${JSON.stringify(await messages(page))}`);
  }
  await page.waitForTimeout(300);
  result.wrongPassword = { messages: await messages(page), errorText: await error.textContent() };
  await page.close();

  result.pageErrors = pageErrors;
  return result;
}

try {
  const result = await run();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (e) {
  process.stderr.write(`inner_frame.mjs: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(overall);
  if (browser) await browser.close().catch(() => {});
  server.close();
}
