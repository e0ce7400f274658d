// End to end: the real server binary on a temporary data dir, Debian's Chromium, the real CLI.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, cliJson, freePort, launchBrowser, Server, shot, tmp, waitFor, watchPage } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';
let server;
let browser;

before(async () => {
  server = new Server(tmp('data'), await freePort());
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function registerInBrowser(page, email) {
  await page.goto(server.url + '/');
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Master password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm master password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  const key = page.getByTestId('secret-key');
  await key.waitFor({ timeout: 60000 });
  return (await key.textContent()).trim();
}

async function loginInBrowser(page, email, secretKey) {
  await page.goto(server.url + '/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Master password').fill(PASSWORD);
  await page.getByLabel('Secret Key').fill(secretKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 60000 });
}

function row(page, title) {
  return page.locator(`[data-testid="item-row"][data-title="${title}"]`);
}

async function statusOf(page, title) {
  return row(page, title).getAttribute('data-status', { timeout: 2000 });
}

async function newFolder(page, profile, name) {
  page.once('dialog', (d) => d.accept(name));
  await page.getByRole('button', { name: `New ${profile} folder` }).click();
  await page.locator(`[data-folder]`, { hasText: name }).first().waitFor();
}

/**
 * @param {import('playwright-core').Page} page
 * @param {{ type: string, title: string, fields?: Record<string, string>, folder?: string, notes?: string, tags?: string }} item
 */
async function addItem(page, { type, title, fields = {}, folder, notes, tags }) {
  await page.getByRole('button', { name: 'New item' }).click();
  const form = page.getByRole('form', { name: 'New item' });
  await form.getByLabel('Type', { exact: true }).selectOption(type);
  await form.getByLabel('Title', { exact: true }).fill(title);
  for (const [label, value] of Object.entries(fields)) await form.getByLabel(label, { exact: true }).fill(value);
  if (folder) await form.getByLabel('Folder', { exact: true }).selectOption({ label: folder });
  if (notes) await form.getByLabel('Notes', { exact: true }).fill(notes);
  if (tags) await form.getByLabel('Tags', { exact: true }).fill(tags);
  if (title === 'Acme portal') await shot(page, '04a-new-item-form');
  await form.getByRole('button', { name: 'Save' }).click();
  await row(page, title).waitFor();
}

test('web vault: register, items in folders, offline edits, live CLI changes, CLI interop', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  const problems = watchPage(page);
  const email = 'alice@example.com';
  let secretKey;

  await t.test('the page is served with a strict CSP and SRI', async () => {
    const res = await fetch(server.url + '/');
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
    assert.match(csp, /object-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    const html = await res.text();
    const script = html.match(/<script[^>]*src="([^"]+)"[^>]*>/);
    assert.ok(script && /integrity="sha384-/.test(script[0]), 'script carries SRI');
    const asset = await fetch(server.url + script[1]);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const api404 = await fetch(server.url + '/api/v1/nope');
    assert.equal(api404.status, 404);
    assert.equal((await api404.json()).error.code, 'not_found');
    assert.equal((await fetch(server.url + '/api/v1/health')).headers.get('cache-control'), 'no-store');
  });

  await t.test('register in the browser shows the Emergency Kit', async () => {
    await page.goto(server.url + '/');
    await shot(page, '01-login');
    secretKey = await registerInBrowser(page, email);
    assert.match(secretKey, /^CK1-[0-9A-Z]{6}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]$/);
    await shot(page, '02-emergency-kit');
    await page.getByLabel('I have saved my Emergency Kit').check();
    await page.getByRole('button', { name: 'Open my vault' }).click();
    await page.getByTestId('empty-list').waitFor();
    await shot(page, '03-empty-vault');
  });

  await t.test('items of several types in nested folders, all synced', async () => {
    await newFolder(page, 'business', 'Clients');
    await newFolder(page, 'business', 'Acme'); // created inside the selected folder
    await addItem(page, { type: 'login', title: 'Acme portal', fields: { Username: 'alice@acme.test', Password: 'S3cret-acme!', Website: 'https://portal.acme.test', 'One-time code': 'JBSWY3DPEHPK3PXP' }, folder: 'Clients/Acme', tags: 'acme, web' });
    await addItem(page, { type: 'server', title: 'Web 1', fields: { Hostname: 'web1.acme.test', Port: '22', Username: 'root', Password: 'r00t-pass' }, folder: 'Clients/Acme' });
    await page.getByRole('button', { name: 'All', exact: true }).click();
    await page.getByRole('button', { name: /^All items/ }).click();
    await addItem(page, { type: 'secure_note', title: 'Door codes', notes: 'Front 1234' });
    await addItem(page, { type: 'credit_card', title: 'Company card', fields: { Cardholder: 'Alice', 'Card number': '4111111111111111', 'Security code': '123' } });
    for (const title of ['Acme portal', 'Web 1', 'Door codes', 'Company card']) {
      await waitFor(async () => (await statusOf(page, title)) === 'synced', 15000, `${title} synced`);
    }
    await row(page, 'Acme portal').click();
    await page.getByTestId('totp-code').waitFor();
    assert.match(await page.getByTestId('totp-code').textContent(), /^\d{3} \d{3}$/);
    await shot(page, '04-vault-item-detail');
    await page.getByRole('searchbox', { name: 'Search' }).fill('acme');
    await waitFor(async () => (await page.getByTestId('item-row').count()) === 2, 5000, 'search results');
    await shot(page, '05-search');
    await page.getByRole('searchbox', { name: 'Search' }).fill('');
    // Keyboard: '/' focuses the search, arrow keys move through the list, Escape clears.
    await page.locator('body').click({ position: { x: 900, y: 700 } });
    await page.keyboard.press('/');
    await page.keyboard.type('web');
    await waitFor(async () => (await page.getByTestId('item-row').count()) === 2, 5000, 'search by keyboard');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await waitFor(async () => (await page.getByTestId('detail-title').textContent()) === 'Web 1', 5000, 'second match selected');
    await page.getByRole('searchbox', { name: 'Search' }).focus();
    await page.keyboard.press('Escape');
    await waitFor(async () => (await page.getByTestId('item-row').count()) === 4, 5000, 'search cleared');
  });

  const cliHome = tmp('cli-home');
  const env = { CASTELLAN_PASSWORD: PASSWORD };
  await t.test('the account registered in the browser logs in from the CLI and reads the items', async () => {
    const r = await cli(cliHome, server.url, ['login', '--email', email], { ...env, CASTELLAN_SECRET_KEY: secretKey });
    assert.equal(r.code, 0, r.stderr);
    const list = await cliJson(cliHome, server.url, ['item', 'list'], env);
    const items = Array.isArray(list) ? list : list.items;
    const titles = items.map((i) => i.title).sort();
    assert.deepEqual(titles, ['Acme portal', 'Company card', 'Door codes', 'Web 1']);
    const portal = items.find((i) => i.title === 'Acme portal');
    assert.equal(portal.folder, 'Clients/Acme');
    const pw = await cli(cliHome, server.url, ['item', 'get', portal.id, '--field', 'password'], env);
    assert.equal(pw.code, 0, pw.stderr);
    assert.equal(pw.stdout.trim(), 'S3cret-acme!');
  });

  await t.test('a change made with the CLI appears in the open page within 5 s', async () => {
    const r = await cli(cliHome, server.url, ['item', 'add', '--profile', 'personal', '--type', 'login', '--title', 'From the CLI', '--username', 'cli-user'], env);
    assert.equal(r.code, 0, r.stderr);
    // The CLI has returned, so the write is on the server: the page must show it within 5 s.
    const t0 = Date.now();
    await waitFor(async () => (await row(page, 'From the CLI').count()) === 1, 5000, 'CLI item in the page');
    console.log(`CLI change shown in the page ${Date.now() - t0} ms after the CLI returned`);
    await waitFor(async () => (await statusOf(page, 'From the CLI')) === 'synced', 5000, 'synced');
  });

  await t.test('offline: the dot goes red, and green after the server is back with the edit on it', async () => {
    await server.stop();
    await row(page, 'Door codes').click();
    await page.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit item' });
    await form.getByLabel('Notes', { exact: true }).fill('Front 1234, back 9876 (offline edit)');
    await form.getByRole('button', { name: 'Save' }).click();
    await waitFor(async () => (await statusOf(page, 'Door codes')) === 'offline', 15000, 'red dot');
    await shot(page, '06-offline-red-dot');
    await server.start();
    await waitFor(async () => (await statusOf(page, 'Door codes')) === 'synced', 20000, 'green dot after restart');
    await shot(page, '07-back-online');
    const list = await cliJson(cliHome, server.url, ['item', 'list'], env);
    const items = Array.isArray(list) ? list : list.items;
    const door = items.find((i) => i.title === 'Door codes');
    const notes = await cli(cliHome, server.url, ['item', 'get', door.id, '--field', 'notes'], env);
    assert.equal(notes.code, 0, notes.stderr);
    assert.equal(notes.stdout.trim(), 'Front 1234, back 9876 (offline edit)');
  });

  await t.test('trash and restore', async () => {
    await row(page, 'Company card').click();
    await page.getByRole('button', { name: 'Move to trash' }).click();
    await waitFor(async () => (await row(page, 'Company card').count()) === 0, 5000, 'gone from the list');
    await page.getByRole('button', { name: /^Trash/ }).click();
    await row(page, 'Company card').click();
    await shot(page, '08-trash');
    await page.getByRole('button', { name: 'Restore' }).click();
    await waitFor(async () => (await row(page, 'Company card').count()) === 0, 5000, 'restored out of the trash');
    await page.getByRole('button', { name: /^All items/ }).click();
    await waitFor(async () => (await statusOf(page, 'Company card')) === 'synced', 10000, 'restored and synced');
  });

  await t.test('password generator', async () => {
    await page.getByRole('button', { name: 'Generator' }).click();
    const pw = await page.getByTestId('generated-password').textContent();
    assert.equal(pw.length, 20);
    await shot(page, '09-generator');
    await page.getByRole('button', { name: 'Close' }).click();
  });

  await t.test('lock and unlock with the master password', async () => {
    await page.getByRole('button', { name: 'Lock' }).click();
    await page.getByRole('heading', { name: 'Unlock' }).waitFor();
    await shot(page, '10-locked');
    await page.getByLabel('Master password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await row(page, 'Acme portal').waitFor({ timeout: 30000 });
  });

  await t.test('one tab at a time: a second tab can take the vault over', async () => {
    const second = await context.newPage();
    await second.goto(server.url + '/');
    await second.getByRole('heading', { name: 'Open in another tab' }).waitFor();
    await shot(second, '11a-other-tab');
    await second.getByRole('button', { name: 'Use it here' }).click();
    await second.getByRole('heading', { name: 'Unlock' }).waitFor();
    await page.getByRole('heading', { name: 'Open in another tab' }).waitFor();
    await second.close();
    await page.getByRole('button', { name: 'Use it here' }).click();
    await page.getByLabel('Master password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await row(page, 'Acme portal').waitFor({ timeout: 30000 });
  });

  await t.test('narrow screens', async () => {
    await page.setViewportSize({ width: 420, height: 860 });
    await shot(page, '12-narrow-list');
    await row(page, 'Acme portal').click();
    await page.getByTestId('detail-title').waitFor();
    await shot(page, '13-narrow-detail');
    await page.getByRole('button', { name: '← Back to the list' }).click();
    await row(page, 'Acme portal').waitFor();
    await page.setViewportSize({ width: 1360, height: 860 });
  });

  assert.deepEqual(problems.filter((p) => !/Failed to load resource/.test(p)), [], 'no console errors or CSP violations');
  await context.close();
});

test('an account registered with the CLI logs in from the browser', async () => {
  const home = tmp('cli-reg');
  const email = 'bob@example.com';
  const env = { CASTELLAN_PASSWORD: PASSWORD };
  const reg = await cliJson(home, server.url, ['register', '--email', email], env);
  const secretKey = reg.secret_key ?? reg.emergency_kit?.secret_key;
  assert.match(secretKey, /^CK1-/);
  const add = await cli(home, server.url, ['item', 'add', '--profile', 'business', '--type', 'server', '--title', 'Bob server', '--username', 'admin', '--folder', 'Infra/Core'], env);
  assert.equal(add.code, 0, add.stderr);
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  await loginInBrowser(page, email, secretKey);
  await row(page, 'Bob server').waitFor({ timeout: 15000 });
  await page.locator('[data-folder="Infra/Core"]').waitFor();
  await row(page, 'Bob server').click();
  await page.getByTestId('detail-title').waitFor();
  await shot(page, '11-cli-account-in-browser');
  await context.close();
});

test('all 12 item types: written by the browser, read field by field by the CLI, edited by the CLI, read back by the browser', async () => {
  const home = tmp('cli-types');
  const email = 'carol@example.com';
  const env = { CASTELLAN_PASSWORD: PASSWORD };
  const reg = await cliJson(home, server.url, ['register', '--email', email], env);
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  await loginInBrowser(page, email, reg.secret_key);
  const fieldsByType = {
    login: ['username', 'password', 'url', 'totp'],
    server: ['hostname', 'port', 'username', 'password', 'url', 'totp'],
    database: ['database_type', 'hostname', 'port', 'database', 'username', 'password', 'connection_string'],
    ssh_key: ['hostname', 'username', 'private_key', 'public_key', 'passphrase', 'fingerprint'],
    email: ['email', 'username', 'password', 'imap_server', 'smtp_server', 'url', 'totp'],
    wifi: ['ssid', 'password', 'security'],
    application: ['username', 'password', 'url', 'version', 'totp'],
    bank_account: ['bank_name', 'account_holder', 'account_number', 'routing_number', 'iban', 'swift', 'pin', 'username', 'password', 'url'],
    credit_card: ['cardholder', 'number', 'expiry', 'cvv', 'pin', 'brand'],
    identity: ['first_name', 'last_name', 'email', 'phone', 'address', 'company', 'birth_date', 'passport_number', 'national_id'],
    secure_note: ['template'],
    software_license: ['product', 'version', 'license_key', 'licensed_to', 'email', 'url', 'purchase_date'],
  };
  const value = (t, f) => (f === 'totp' ? 'JBSWY3DPEHPK3PXP' : f === 'address' ? `1 Main St\nFlat ${t}` : `${f}-of-${t}-ü€`);
  const items = Object.entries(fieldsByType).map(([type, fields]) => ({
    type,
    title: `All fields ${type}`,
    fields: Object.fromEntries([...fields.map((f) => [f, value(type, f)]), ['recovery code', `rc-${type}`]]),
    notes: `notes of ${type}`,
    tags: ['all', type],
  }));
  const file = join(tmp('types'), 'types.json');
  writeFileSync(file, JSON.stringify(items));
  await page.getByTestId('import-file').setInputFiles(file);
  for (const it of items) await waitFor(async () => (await statusOf(page, it.title)) === 'synced', 20000, `${it.title} synced`);

  const listed = await cliJson(home, server.url, ['item', 'list'], env);
  assert.equal(listed.length, 12);
  for (const it of items) {
    const entry = listed.find((e) => e.title === it.title);
    assert.ok(entry, it.title);
    const full = await cliJson(home, server.url, ['item', 'get', entry.id], env);
    assert.equal(full.type, it.type);
    const { ['recovery code']: rc, ...own } = it.fields;
    assert.deepEqual(full.fields, own, it.type);
    assert.deepEqual(full.custom_fields, [{ name: 'recovery code', value: rc, hidden: false }]);
    assert.equal(full.notes, it.notes);
    assert.deepEqual(full.tags, ['all', it.type].sort());
  }

  // The CLI edits one field of each; the open page shows the new values.
  for (const it of items.slice(0, 3)) {
    const entry = listed.find((e) => e.title === it.title);
    const r = await cli(home, server.url, ['item', 'edit', entry.id, '--field', `${fieldsByType[it.type][0]}=edited-by-cli`], env);
    assert.equal(r.code, 0, r.stderr);
  }
  await row(page, 'All fields server').click();
  await waitFor(async () => (await page.locator('[data-field="Hostname"]').textContent()) === 'edited-by-cli', 10000, 'CLI edit in the page');
  await shot(page, '16-all-types-server');
  await context.close();
});
