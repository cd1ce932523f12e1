#!/usr/bin/env node
// Trellis browser check: logs in through the real /login form, visits pages at
// two viewport widths, writes full-page screenshots, runs axe-core, and checks
// the HTML each page was served with using the Nu HTML Checker (vnu.jar).
//
// Exit status: 0 = clean; 1 = a serious/critical axe finding, an HTML error,
// an HTTP status >= 400, a failed login, or a page that could not be loaded;
// 2 = bad config, or the browser or the HTML checker could not be started.
//
// Environment:
//   TRELLIS_URL  base URL of a running server, e.g. http://127.0.0.1:8080 (required)
//   ACCOUNTS     JSON array: [{"role":"admin","email":"a@x","password":"p","pages":["/"]}]
//                (default []); an account with "sso": "<login>" signs in with the login
//                page's single sign-on button instead, as <login> at the provider
//                (whose own login and consent forms are filled in)
//   ANON_PAGES   JSON array of paths checked logged out (default ["/login"])
//   SHOTS_DIR    screenshot directory (default ./target/screenshots)
//   WIDTHS       comma-separated viewport widths (default 390,1280)
//   TIMEOUT_MS   navigation/action timeout in ms (default 30000)
//   CHROMIUM     browser executable (default /usr/bin/chromium)
//   HTML_DIR     where each page's served HTML is saved for the checker
//                (default ./target/served-html)
//   JAVA         Java 17 or newer, to run vnu.jar (default java on PATH)
//   PRINT_PAGES  JSON object {"/path": [fewest, most]}: each of these pages an account
//                visits is also printed to PDF at A4, which must take fewest..most pages,
//                with nothing wider than the printable width (default {})

import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

function fail(msg) {
  console.error(`check.mjs: ${msg}`);
  process.exit(2);
}

function parseJsonEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  try {
    return JSON.parse(raw);
  } catch (e) {
    fail(`${name} is not valid JSON: ${e.message}`);
  }
}

const base = (process.env.TRELLIS_URL || '').replace(/\/+$/, '');
if (!base) fail('TRELLIS_URL is required (e.g. http://127.0.0.1:8080)');
try {
  new URL(base);
} catch {
  fail(`TRELLIS_URL is not a URL: ${base}`);
}
const shotsDir = path.resolve(process.env.SHOTS_DIR || './target/screenshots');
const accounts = parseJsonEnv('ACCOUNTS', []);
const anonPages = parseJsonEnv('ANON_PAGES', ['/login']);
const widths = (process.env.WIDTHS || '390,1280')
  .split(',')
  .map((w) => Number.parseInt(w.trim(), 10))
  .filter((w) => Number.isFinite(w) && w > 0);
const timeout = Number.parseInt(process.env.TIMEOUT_MS || '30000', 10);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const htmlDir = path.resolve(process.env.HTML_DIR || './target/served-html');
const java = process.env.JAVA || 'java';
const prints = parseJsonEnv('PRINT_PAGES', {});

if (!Array.isArray(accounts)) fail('ACCOUNTS must be a JSON array');
if (!Array.isArray(anonPages)) fail('ANON_PAGES must be a JSON array');
if (widths.length === 0) fail('WIDTHS has no valid width');
for (const [i, a] of accounts.entries()) {
  if (!a || typeof a !== 'object') fail(`ACCOUNTS[${i}] is not an object`);
  for (const k of ['role', 'email', 'password']) {
    if (typeof a[k] !== 'string' || a[k] === '') fail(`ACCOUNTS[${i}].${k} must be a non-empty string`);
  }
  if (!Array.isArray(a.pages)) fail(`ACCOUNTS[${i}].pages must be an array`);
  if (a.sso != null && (typeof a.sso !== 'string' || a.sso === '')) fail(`ACCOUNTS[${i}].sso must be a non-empty string when given`);
}

const BLOCKING = new Set(['serious', 'critical']);
const MAX_NODES = 10; // selectors listed per violation on one report line

const axeSource = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
// The jar is run directly: the package's own launcher may download a Java runtime.
const vnuJar = require.resolve('vnu-jar/build/dist/vnu.jar');

const url = (p) => base + (p.startsWith('/') ? p : `/${p}`);
const pathOf = (u) => new URL(u).pathname;
const homePath = pathOf(url('/'));
const loginPath = pathOf(url('/login'));

function slug(p) {
  const s = p
    .replace(/^\/+|\/+$/g, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s || 'home';
}

function selector(target) {
  // axe targets are arrays when crossing iframes/shadow roots.
  return Array.isArray(target) ? target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : t)).join(' | ') : String(target);
}

let checked = 0;
let findings = 0; // serious/critical violating nodes
let problems = 0; // HTTP errors, failed logins, load errors
const served = new Map(); // saved HTML file -> "role path", for the checker's report

async function checkPage(page, role, p, loggedIn) {
  for (const width of widths) {
    const where = `${role} ${p} @${width}`;
    await page.setViewportSize({ width, height: width < 600 ? 844 : 800 });
    let status = '-';
    let response;
    try {
      response = await page.goto(url(p), { waitUntil: 'load', timeout });
    } catch (e) {
      problems++;
      console.log(`FAIL ${where}: load error: ${e.message.split('\n')[0]}`);
      continue;
    }
    const notes = [];
    if (response) {
      status = response.status();
      if (status >= 400) {
        problems++;
        notes.push(`HTTP ${status}`);
      }
    }
    // The served HTML is the same at every width: save it once per role and page.
    const file = path.join(htmlDir, `${role}-${slug(p)}.html`);
    if (response && !served.has(file)) {
      await writeFile(file, await response.text());
      served.set(file, `${role} ${p}`);
    }
    const finalPath = pathOf(page.url());
    if (loggedIn && finalPath === loginPath && pathOf(url(p)) !== loginPath) {
      problems++;
      notes.push('redirected to /login (session lost?)');
    }

    const shot = path.join(shotsDir, `${role}-${slug(p)}-${width}.png`);
    await page.screenshot({ path: shot, fullPage: true });

    let violations;
    try {
      await page.addScriptTag({ content: axeSource });
      violations = await page.evaluate(async () => {
        // eslint-disable-next-line no-undef
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          nodes: v.nodes.map((n) => ({ impact: n.impact, target: n.target })),
        }));
      });
    } catch (e) {
      problems++;
      console.log(`FAIL ${where} (${status}): axe could not run: ${e.message.split('\n')[0]}`);
      continue;
    }
    checked++;

    for (const v of violations) {
      const nodes = v.nodes.filter((n) => BLOCKING.has(n.impact || v.impact));
      if (nodes.length === 0) continue;
      findings += nodes.length;
      const shown = nodes.slice(0, MAX_NODES).map((n) => selector(n.target));
      const more = nodes.length > MAX_NODES ? ` (+${nodes.length - MAX_NODES} more)` : '';
      notes.push(`${v.id}[${v.impact}]: ${shown.join(', ')}${more}`);
    }
    console.log(`${notes.length ? 'FAIL' : 'ok  '} ${where} (${status})${notes.length ? ': ' + notes.join('; ') : ''}`);
  }
}

// The printable width of an A4 page inside the stylesheet's @page margins (210 mm less
// 2 × 14 mm), in CSS pixels.
const A4_PRINTABLE_PX = Math.floor(((210 - 28) / 25.4) * 96);
let printed = 0;
let printProblems = 0;

// Prints the page as the browser's Print would, at A4: the page count must be within
// `range` and no element may reach past the printable width.
async function checkPrint(page, role, p, [fewest, most]) {
  const where = `${role} ${p} print`;
  try {
    await page.setViewportSize({ width: A4_PRINTABLE_PX, height: 1000 });
    await page.goto(url(p), { waitUntil: 'load', timeout });
    await page.emulateMedia({ media: 'print' });
    const wide = await page.evaluate((limit) => [...document.querySelectorAll('body *')]
      .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > limit + 1)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.classList.length ? '.' + e.classList[0] : ''}`), A4_PRINTABLE_PX);
    const pdf = await page.pdf({ format: 'A4', preferCSSPageSize: true, printBackground: true });
    await page.emulateMedia({ media: 'screen' });
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g) || []).length;
    printed++;
    const notes = [];
    if (pages < fewest || pages > most) notes.push(`${pages} A4 pages, wanted ${fewest} to ${most}`);
    if (wide.length) notes.push(`wider than the page: ${wide.join(', ')}`);
    if (notes.length) printProblems++;
    console.log(`${notes.length ? 'FAIL' : 'ok  '} ${where}: ${pages} A4 page${pages === 1 ? '' : 's'}${notes.length ? '; ' + notes.join('; ') : ''}`);
  } catch (e) {
    printProblems++;
    console.log(`FAIL ${where}: ${e.message.split('\n')[0]}`);
  }
}

async function login(page, account) {
  const resp = await page.goto(url('/login'), { waitUntil: 'load', timeout });
  if (resp && resp.status() >= 400) throw new Error(`GET /login returned HTTP ${resp.status()}`);
  const form = page.locator('form:has(input[name="email"])').first();
  await form.locator('input[name="email"]').fill(account.email, { timeout });
  await form.locator('input[name="password"]').fill(account.password, { timeout });
  const submit = form.locator('button[type="submit"], input[type="submit"], button:not([type])').first();
  const [navResp] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout }),
    submit.click({ timeout }),
  ]);
  if (navResp && navResp.status() >= 400) throw new Error(`login submit ended with HTTP ${navResp.status()} at ${page.url()}`);
  const landed = pathOf(page.url());
  if (landed !== homePath) throw new Error(`expected redirect to ${homePath}, landed on ${landed}`);
}

// Clicks "Sign in with …" and goes through the provider's own pages (its login form, then
// its consent form) until the browser is back on Trellis's home page.
async function loginWithSso(page, account) {
  await page.goto(url('/login'), { waitUntil: 'load', timeout });
  const button = page.locator('a[href^="/login/sso"]').first();
  await Promise.all([page.waitForNavigation({ waitUntil: 'load', timeout }), button.click({ timeout })]);
  for (let step = 0; step < 5 && !page.url().startsWith(base); step++) {
    const login = page.locator('input[name="login"]');
    if (await login.count()) {
      await login.fill(account.sso, { timeout });
      await page.locator('input[name="password"]').fill('anything', { timeout });
    }
    const submit = page.locator('form button[type="submit"], form button:not([type])').first();
    await Promise.all([page.waitForNavigation({ waitUntil: 'load', timeout }), submit.click({ timeout })]);
  }
  const landed = page.url().startsWith(base) ? pathOf(page.url()) : page.url();
  if (landed !== homePath) throw new Error(`expected to land on ${homePath}, landed on ${landed}`);
}

// Runs the Nu HTML Checker once over every saved page. Every error counts; warnings are shown.
async function checkHtml() {
  const files = [...served.keys()];
  if (files.length === 0) return { errors: 0, warnings: 0 };
  const { code, stdout, stderr } = await new Promise((resolve) => {
    execFile(
      java,
      ['-jar', vnuJar, '--format', 'json', '--stdout', ...files],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }),
    );
  });
  let report;
  try {
    report = JSON.parse(stdout);
  } catch {
    fail(`the HTML checker did not run (${java} -jar ${vnuJar}, exit ${code}): ${(stderr || stdout).trim().split('\n')[0]}`);
  }
  let errors = 0;
  let warnings = 0;
  for (const m of report.messages || []) {
    const file = m.url ? fileURLToPath(m.url) : '';
    const where = `${served.get(file) || file}${m.lastLine ? ` line ${m.lastLine}` : ''}`;
    if (m.type === 'info' && m.subType === 'warning') {
      warnings++;
      console.log(`warn html ${where}: ${m.message}`);
    } else if (m.type !== 'info') {
      errors++;
      console.log(`FAIL html ${where}: ${m.message}`);
    }
  }
  return { errors, warnings };
}

await mkdir(shotsDir, { recursive: true });
// A page dropped from the list must not leave its old HTML behind; only .html files go.
await mkdir(htmlDir, { recursive: true });
for (const name of await readdir(htmlDir)) {
  if (name.endsWith('.html')) await rm(path.join(htmlDir, name), { force: true });
}

let browser;
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
} catch (e) {
  fail(`could not launch ${executablePath}: ${e.message.split('\n')[0]}`);
}

const contextOptions = { bypassCSP: true, viewport: { width: widths[0], height: 800 } };

try {
  const runs = [];
  if (anonPages.length) runs.push({ role: 'anon', pages: anonPages });
  runs.push(...accounts);

  for (const run of runs) {
    const context = await browser.newContext(contextOptions);
    context.setDefaultTimeout(timeout);
    const page = await context.newPage();
    try {
      const loggedIn = Boolean(run.email);
      if (loggedIn) {
        const how = run.sso ? 'with single sign-on' : 'as';
        try {
          await (run.sso ? loginWithSso(page, run) : login(page, run));
          console.log(`ok   ${run.role} login ${how} ${run.email}`);
        } catch (e) {
          problems++;
          console.log(`FAIL ${run.role} login ${how} ${run.email}: ${e.message.split('\n')[0]}`);
          continue;
        }
      }
      for (const p of run.pages) {
        await checkPage(page, run.role, String(p), loggedIn);
        if (prints[p]) await checkPrint(page, run.role, String(p), prints[p]);
      }
    } finally {
      await context.close();
    }
  }
} finally {
  await browser.close();
}

const html = await checkHtml();

console.log(`screenshots: ${shotsDir}`);
console.log(`axe: ${checked} pages checked, ${findings} serious or critical findings`);
console.log(`html: ${served.size} pages checked, ${html.errors} errors, ${html.warnings} warnings`);
console.log(`print: ${printed} reports printed at A4, ${printProblems} problems`);
if (problems) console.log(`problems: ${problems} (HTTP >= 400, failed login or load error)`);
process.exit(findings || html.errors || problems || printProblems ? 1 : 0);
