// A real-browser test driver for the gateway's namespace grant inner frame (spec §6.8), used by
// tests/namespace_grant_frame.rs:
//
//   node namespace_grant_frame.mjs <gateway base URL> <namespaceGrantChallenge as JSON text>
//   (or GATEWAY_URL and NAMESPACE_GRANT_CHALLENGE in the environment)
//
// It serves an outer-frame page from a node `http` server on 127.0.0.1:0 (an origin other than
// the gateway's) that embeds `<gateway>/namespace-grant/v1/inner-frame`, answers each
// `namespace-grant-window` request with an empty result, answers the first one with
// `namespace-grant-start` carrying the challenge, and records every message it receives in
// `window.__messages`. The start's `browser.outerFrameURL` is the page's own URL unless the page
// URL's query has `declare=<URL>`: then it is that URL, which the scenario below points at a
// SECOND node server (another port, so another origin) that never embeds anything. Debian's
// Chromium (/usr/bin/chromium, driven by playwright-core; no browser is ever downloaded) then runs
// three scenarios in fresh pages:
//
//   allow        click Allow in the frame, wait for namespace-grant-complete
//   wrongOrigin  outerFrameURL names the other origin; click Allow, wait for the frame's
//                POST /namespace-grant/v1/grant to answer, then a short grace: nothing may arrive
//   deny         click Deny, wait for namespace-grant-complete
//
// Prints ONE JSON line on stdout: {"gatewayOrigin", "outerOrigin", "declaredOrigin", "pageErrors",
// "allow":{messages, challengeText, grantResponses}, "wrongOrigin":{…same…},
// "deny":{…same…}}, each message {origin, data (parsed)}, each grant response {status, origin,
// frame} (the origins of the URL and of the frame that asked for it). Exits 1 with a message on stderr on any
// failure.

import http from 'node:http';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 15_000;
const OVERALL_TIMEOUT_MS = 90_000;
/// How long the wrongOrigin scenario waits for a stray completion after the grant was signed.
const GRACE_MS = 1_500;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function fail(message) {
  process.stderr.write(`namespace_grant_frame.mjs: ${message}\n`);
  process.exit(1);
}

const gateway = (process.argv[2] || process.env.GATEWAY_URL || '').replace(/\/+$/, '');
if (!/^https?:\/\//.test(gateway)) {
  fail('usage: node namespace_grant_frame.mjs <gateway base URL> <challenge JSON>');
}
let challenge;
try {
  challenge = JSON.parse(process.argv[3] || process.env.NAMESPACE_GRANT_CHALLENGE || '');
} catch (e) {
  fail(`the second argument must be the namespaceGrantChallenge as JSON text: ${e}`);
}
const gatewayOrigin = new URL(gateway).origin;
const innerFrameURL = `${gateway}/namespace-grant/v1/inner-frame`;

/// JSON for inclusion in an inline <script>: no `</script>` can end it early.
const scriptJSON = (value) => JSON.stringify(value).replace(/</g, '\\u003c');

function outerPage() {
  // The listener is registered before the iframe exists, so the first namespace-grant-window
  // cannot be missed.
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>outer frame</title>
<script>
"use strict";
window.__messages = [];
const innerOrigin = ${scriptJSON(gatewayOrigin)};
const challenge = ${scriptJSON(challenge)};
let started = false, counter = 0;
window.addEventListener("message", (event) => {
  let data;
  try { data = JSON.parse(event.data); } catch (_) { data = { unparsed: String(event.data) }; }
  window.__messages.push({ origin: event.origin, data });
  const frame = document.getElementById("inner").contentWindow;
  if (event.source !== frame || event.origin !== innerOrigin) return;
  const request = data.request;
  if (!request || request["$method"] !== "namespace-grant-window") return;
  // namespace-grant-window is a request (C14): answer it with an empty result.
  frame.postMessage(JSON.stringify({ result: { "$domain": request["$domain"], "$id": request["$id"],
    "$handler": "namespace-grant", "$method": "namespace-grant-window" } }), innerOrigin);
  if (started) return;
  started = true;
  const declared = new URLSearchParams(location.search).get("declare") || location.href;
  frame.postMessage(JSON.stringify({ notify: {
    "$domain": "localhost", "$id": "outer-" + (++counter), "$handler": "namespace-grant",
    "$method": "namespace-grant-start",
    agent: { userAgent: "openpeer-gateway-test/1", name: "namespace grant frame test", image: "", url: location.href },
    namespaceGrantChallenges: { namespaceGrantChallenge: challenge },
    browser: { visibility: "visible-on-demand", popup: "deny", outerFrameURL: declared },
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
// The origin the wrongOrigin scenario declares: it listens, but no page of it embeds the frame.
const elsewhere = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>elsewhere</title>');
});

let browser;
const overall = setTimeout(() => {
  process.stderr.write(`namespace_grant_frame.mjs: gave up after ${OVERALL_TIMEOUT_MS} ms\n`);
  Promise.resolve(browser && browser.close()).finally(() => process.exit(1));
}, OVERALL_TIMEOUT_MS);

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

const COMPLETE_SOURCE = `(m) => m.data && m.data.notify && m.data.notify["$method"] === "namespace-grant-complete"`;
const VISIBLE_WINDOW_SOURCE = `(m) => m.data && m.data.request && m.data.request["$method"] === "namespace-grant-window" && m.data.request.browser && m.data.request.browser.visibility === true`;

const listen = (s) => new Promise((resolve, reject) => {
  s.once('error', reject);
  s.listen(0, '127.0.0.1', resolve);
});

async function run() {
  await listen(server);
  await listen(elsewhere);
  const outer = `http://127.0.0.1:${server.address().port}/outer`;
  const declared = `http://127.0.0.1:${elsewhere.address().port}/outer`;
  const outerOrigin = new URL(outer).origin;
  const declaredOrigin = new URL(declared).origin;
  if (outerOrigin === gatewayOrigin) throw new Error('the outer page must not share the gateway origin');
  if (declaredOrigin === outerOrigin || declaredOrigin === gatewayOrigin) {
    throw new Error('the declared origin must differ from the outer page and the gateway');
  }

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const context = await browser.newContext();
  const result = { gatewayOrigin, outerOrigin, declaredOrigin };
  const pageErrors = [];

  // Opens `url` in a fresh page, waits until the frame shows the challenge and asked to be
  // visible, clicks `button` (#allow or #deny) and returns the page, the frame and the grant
  // responses the page saw (filled in as they come).
  const openAndClick = async (url, button) => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    const grantResponses = [];
    page.on('response', (response) => {
      const u = new URL(response.url());
      if (u.pathname === '/namespace-grant/v1/grant') {
        grantResponses.push({ status: response.status(), origin: u.origin, frame: new URL(response.frame().url()).origin });
      }
    });
    await page.goto(url);
    const frame = page.frameLocator('#inner');
    await waitForMessage(page, 'namespace-grant-window with visibility true', VISIBLE_WINDOW_SOURCE);
    await frame.locator(button).click({ timeout: STEP_TIMEOUT_MS });
    return { page, frame, grantResponses };
  };
  const record = async ({ page, frame, grantResponses }) => ({
    messages: await messages(page),
    challengeText: await frame.locator('#challenges').textContent(),
    errorText: await frame.locator('#error').textContent(),
    grantResponses,
  });

  // 1. Allow: the signed bundle reaches the declared (= real) outer origin.
  let scenario = await openAndClick(outer, '#allow');
  await waitForMessage(scenario.page, 'namespace-grant-complete after Allow', COMPLETE_SOURCE);
  result.allow = await record(scenario);
  await scenario.page.close();

  // 2. Allow, but outerFrameURL names another origin: the frame gets its bundle from the gateway
  // and must not hand it to the page that actually embeds it.
  scenario = await openAndClick(`${outer}?declare=${encodeURIComponent(declared)}`, '#allow');
  try {
    const started = Date.now();
    while (scenario.grantResponses.length === 0) {
      if (Date.now() - started > STEP_TIMEOUT_MS) throw new Error('timeout');
      await scenario.page.waitForTimeout(50);
    }
  } catch (e) {
    throw new Error(`the frame did not POST the grant after Allow; messages: ${JSON.stringify(await messages(scenario.page))}`);
  }
  await scenario.page.waitForTimeout(GRACE_MS);
  result.wrongOrigin = await record(scenario);
  await scenario.page.close();

  // 3. Deny: a completion without bundles.
  scenario = await openAndClick(outer, '#deny');
  await waitForMessage(scenario.page, 'namespace-grant-complete after Deny', COMPLETE_SOURCE);
  await scenario.page.waitForTimeout(300); // any stray second completion
  result.deny = await record(scenario);
  await scenario.page.close();

  result.pageErrors = pageErrors;
  return result;
}

try {
  const result = await run();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (e) {
  process.stderr.write(`namespace_grant_frame.mjs: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(overall);
  if (browser) await browser.close().catch(() => {});
  server.close();
  elsewhere.close();
}
