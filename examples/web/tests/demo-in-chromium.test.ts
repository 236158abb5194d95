/**
 * The demo app in real Chromium, signed in through the local Auth: two browser contexts as Ada
 * (her phone and her laptop, each with its own IndexedDB) and one as Ben.
 *
 * - A message sent on Ada's phone appears on her laptop; marked important there, it is a memory on both.
 * - Offline (`context.setOffline`), the laptop shows `⚠️ SYNC`; what it writes then reaches the
 *   phone once after it reconnects (one row in the database).
 * - A reload while the backend cannot be reached keeps the outbox in the browser's IndexedDB, and
 *   the edit is sent once the backend answers again.
 * - A message written offline into a conversation the phone deleted meanwhile is refused by the
 *   server and rolled back on screen with its reason; an edit the server would refuse in shape is
 *   refused before it is queued.
 * - Ben's page never shows a row of Ada's.
 * Screenshots of each step are kept in .stack/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seeded, seededPassword } from '../../../test-support/auth.ts';
import { launchChromium } from '../../../test-support/browser.ts';
import { waitFor } from '../../../test-support/wait.ts';
import { type DemoServer, startDemo } from '../server.ts';

const required = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through \`npm test\`, or export the stack variables`);
  return value;
};
const apiUrl = required('API_URL');
const projectRoot = join(import.meta.dirname, '..', '..', '..');
const screenshots = join(projectRoot, '.stack', 'screenshots');
const sql = postgres(required('DB_URL'), { max: 1, onnotice: () => undefined });
const run = crypto.randomUUID().slice(0, 8);

let demo: DemoServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  demo = await startDemo({
    apiUrl,
    publishableKey: required('PUBLISHABLE_KEY'),
    outDir: join(projectRoot, '.stack', 'demo-test'),
    port: 0,
  });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  await sql.end();
});

/** A device: a browser context of its own (own localStorage and IndexedDB), signed in. */
async function device(email: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 720 } });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(demo.url);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', seededPassword);
  await page.click('button[type=submit]');
  await connected(page);
  return { context, page };
}

const indicator = (page: Page) => page.locator('[data-testid=sync-indicator]');
const connected = (page: Page) =>
  indicator(page).and(page.locator('[data-state=connected]')).waitFor({ timeout: 20_000 });
const conversation = (page: Page, title: string) =>
  page.locator('[data-testid=conversation-list] button', { hasText: title });
const messages = (page: Page, text: string) => page.locator('[data-testid=messages] li', { hasText: text });
const shot = (page: Page, name: string) => page.screenshot({ path: join(screenshots, `${name}.png`) });

async function send(page: Page, text: string): Promise<void> {
  await page.fill('textarea[name=message]', text);
  await page.click('.composer button[type=submit]');
  await messages(page, text).waitFor();
}

/**
 * Counts the values in the page's `virgil-sync-*` IndexedDB databases (every store) that hold
 * `needle`. Page-side code, kept as source text: it runs in the browser, not in Node.
 */
const countInIndexedDb = `async (needle) => {
  const done = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  let found = 0;
  for (const { name } of await indexedDB.databases()) {
    if (!name || !name.startsWith('virgil-sync-')) continue;
    const db = await done(indexedDB.open(name));
    for (const store of db.objectStoreNames) {
      const values = await done(db.transaction(store).objectStore(store).getAll());
      found += values.filter((value) => JSON.stringify(value).includes(needle)).length;
    }
    db.close();
  }
  return found;
}`;

const inIndexedDb = (page: Page, text: string) =>
  page.evaluate<number>(`(${countInIndexedDb})(${JSON.stringify(text)})`);

const rowsWithContent = async (content: string) =>
  Number((await sql`select count(*)::int as n from public.messages where content = ${content}`)[0]!.n);

describe('the demo app in Chromium', { timeout: 120_000 }, () => {
  let phone: { context: BrowserContext; page: Page };
  let laptop: { context: BrowserContext; page: Page };
  let ben: { context: BrowserContext; page: Page };
  const title = `Trip ${run}`;

  beforeAll(async () => {
    [phone, laptop, ben] = await Promise.all([device(seeded.ada), device(seeded.ada), device(seeded.ben)]);
  }, 120_000);

  it("a message sent on Ada's phone appears on her laptop", async () => {
    await phone.page.fill('input[name=new-conversation]', title);
    await phone.page.click('nav form button[type=submit]');
    const text = `Pack the tent ${run}`;
    await send(phone.page, text);

    await conversation(laptop.page, title).click({ timeout: 20_000 });
    await messages(laptop.page, text).waitFor({ timeout: 20_000 });
    expect(await messages(laptop.page, text).count()).toBe(1);

    // Marked important on the phone, it is a memory on the laptop, scored by the server.
    await messages(phone.page, text).locator('button', { hasText: 'Mark important' }).click();
    const memory = laptop.page.locator('[data-testid=memory-list] li', { hasText: text });
    await memory.waitFor({ timeout: 20_000 });
    await memory.locator('small', { hasText: /^\d\.\d\d$/ }).waitFor({ timeout: 20_000 });
    await shot(laptop.page, 'ada-laptop-receives');
  });

  it('offline, the laptop shows ⚠️ SYNC; what it writes reaches the phone once after it reconnects', async () => {
    await laptop.context.setOffline(true);
    await indicator(laptop.page).and(laptop.page.locator('[data-state=disconnected]')).waitFor();
    expect(await indicator(laptop.page).textContent()).toContain('⚠️ SYNC');
    const text = `Written on the train ${run}`;
    await send(laptop.page, text);
    await laptop.page.locator('[data-testid=waiting]').waitFor();
    await shot(laptop.page, 'ada-laptop-offline');

    await laptop.context.setOffline(false);
    await connected(laptop.page);
    await conversation(phone.page, title).click();
    await messages(phone.page, text).waitFor({ timeout: 20_000 });
    await laptop.page.locator('[data-testid=waiting]').waitFor({ state: 'detached', timeout: 20_000 });
    expect(await messages(phone.page, text).count()).toBe(1);
    expect(await rowsWithContent(text)).toBe(1);
    await shot(phone.page, 'ada-phone-after-reconnect');
  });

  it('a reload while the backend is unreachable keeps the outbox in IndexedDB and sends it when it answers', async () => {
    const { context, page } = laptop;
    await context.setOffline(true);
    await indicator(page).and(page.locator('[data-state=disconnected]')).waitFor();
    const text = `Kept through a reload ${run}`;
    await send(page, text);
    await waitFor(async () => (await inIndexedDb(page, text)) > 0, { timeoutMs: 5000, what: 'the edit in IndexedDB' });

    // The page's own files come from the demo server; the backend stays out of reach across the reload.
    await context.route(`${apiUrl}/**`, (route) => route.abort('internetdisconnected'));
    let backendDown = true;
    await context.routeWebSocket(/\/realtime\/v1\//, (socket) =>
      backendDown ? socket.close() : socket.connectToServer(),
    );
    await context.setOffline(false);
    await page.reload();
    await conversation(page, title).click();
    await messages(page, text).waitFor();
    await page.locator('[data-testid=waiting]').waitFor();
    expect(await indicator(page).getAttribute('data-state')).not.toBe('connected');
    expect(await rowsWithContent(text)).toBe(0);

    await context.unrouteAll();
    backendDown = false;
    await connected(page);
    await waitFor(async () => (await rowsWithContent(text)) === 1, {
      timeoutMs: 60_000,
      what: 'the kept edit on the server',
    });
    await messages(phone.page, text).waitFor({ timeout: 20_000 });
    expect(await messages(phone.page, text).count()).toBe(1);
    expect(await rowsWithContent(text)).toBe(1);
  });

  it('a message written offline into a conversation deleted on the other device is rolled back on screen with the reason', async () => {
    const doomed = `Short-lived ${run}`;
    await phone.page.fill('input[name=new-conversation]', doomed);
    await phone.page.click('nav form button[type=submit]');
    await conversation(laptop.page, doomed).click({ timeout: 20_000 });

    await laptop.context.setOffline(true);
    await indicator(laptop.page).and(laptop.page.locator('[data-state=disconnected]')).waitFor();
    await phone.page.click('.rename button.delete');
    await conversation(phone.page, doomed).waitFor({ state: 'detached' });
    await phone.page.locator('[data-testid=waiting]').waitFor({ state: 'detached', timeout: 20_000 });
    const text = `Into the void ${run}`;
    await send(laptop.page, text);

    await laptop.context.setOffline(false);
    const notice = laptop.page.locator('[data-testid=rollbacks] li');
    await notice.waitFor({ timeout: 20_000 });
    expect(await notice.textContent()).toContain('Your change to message was not kept: reference_not_found');
    await messages(laptop.page, text).waitFor({ state: 'detached', timeout: 20_000 });
    await shot(laptop.page, 'ada-laptop-rollback');
    expect(await rowsWithContent(text)).toBe(0);
  });

  it('an edit the server would refuse in shape is refused on screen before it is queued', async () => {
    const { page } = phone;
    await conversation(page, title).click();
    await page.fill('input[name=title]', 'x'.repeat(501));
    await page.click('.rename button[type=submit]');
    expect(await page.locator('[data-testid=refused]').textContent()).toContain('Not saved: fields.title: Too big');
    expect(await page.locator('[data-testid=conversation-title]').textContent()).toBe(title);
    expect(await page.locator('[data-testid=waiting]').count()).toBe(0);
  });

  it("Ben's page never shows a row of Ada's", async () => {
    const own = `Ben's notes ${run}`;
    await ben.page.fill('input[name=new-conversation]', own);
    await ben.page.click('nav form button[type=submit]');
    await ben.page.locator('[data-testid=waiting]').waitFor({ state: 'detached', timeout: 20_000 });
    await conversation(ben.page, own).waitFor();
    await shot(ben.page, 'ben');
    const adaTitles = await laptop.page.locator('[data-testid=conversation-list] button').allTextContents();
    expect(adaTitles.some((text) => text.includes(title))).toBe(true);
    const benText = (await ben.page.textContent('body')) ?? '';
    expect(benText).not.toContain(title);
    expect(benText).not.toContain('Lisbon in May');
    expect(await inIndexedDb(ben.page, title)).toBe(0);
    expect(await conversation(laptop.page, own).count()).toBe(0);
  });
});
