// End to end: the Shares page of the Customer Portal in Chromium against the real server. The
// company, its members and a share are made with the CLI (as crates/castellan-cli/tests/
// share_e2e.rs); the admin opens the portal in the browser, sees the share's name (sealed by the
// Rust client to the company key), owners and recipients, removes a reader and transfers
// ownership with access lists signed in the browser, which the CLI then verifies.
// Screenshots: test-output/portal-shares-*.png.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, cliJson, freePort, launchBrowser, Server, shot, tmp, waitFor, watchPage } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';
let server;
let browser;

before(async () => {
  server = new Server(tmp('shares-data'), await freePort());
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

class Device {
  constructor(email) {
    this.email = email;
    this.home = tmp('shares-home');
    this.secretKey = null;
  }
  json(args) {
    return cliJson(this.home, server.url, args, { CASTELLAN_PASSWORD: PASSWORD });
  }
  run(args) {
    return cli(this.home, server.url, args, { CASTELLAN_PASSWORD: PASSWORD });
  }
  /** The share's item titles as this device sees them (after a sync). */
  async sharedTitles(share) {
    await this.run(['sync']);
    const items = await this.json(['item', 'list']);
    return items.filter((i) => i.share === share).map((i) => i.title).sort();
  }
}

test('the Shares page of the portal: names, owners, recipients; remove a reader, transfer ownership', async (t) => {
  const token = (await waitFor(() => server.log.match(/Setup token: (\S+)/), 10000, 'the setup token'))[1];
  const admin = new Device('admin@acme.test');
  const owner = new Device('owner@acme.test');
  const heir = new Device('heir@acme.test');
  const reader = new Device('reader@acme.test');
  const ops = new Device('ops@acme.test');
  let sid;

  await t.test('the CLI sets up the company, its members, a group and two shares', async () => {
    admin.secretKey = (await admin.json(['register', '--email', admin.email])).secret_key;
    await admin.json(['admin', 'setup', '--token', token, '--name', 'Acme']);
    for (const d of [owner, heir, reader, ops]) {
      const inv = await admin.json(['admin', 'user', 'invite', d.email, '--role', 'user', '--company', 'Acme']);
      d.secretKey = (await d.json(['register', '--invite', inv.link])).secret_key;
      await admin.json(['admin', 'user', 'confirm', d.email, '--company', 'Acme', '--yes']);
    }
    await admin.json(['admin', 'group', 'create', 'Ops', '--member', ops.email, '--company', 'Acme']);
    const fw = (await owner.json(['item', 'add', '--profile', 'business', '--type', 'login', '--title', 'Firewall', '--username', 'root', '--password', 'fw-secret'])).id;
    const printer = (await owner.json(['item', 'add', '--profile', 'business', '--type', 'login', '--title', 'Printer', '--password', 'pr-secret'])).id;
    sid = (await owner.json(['share', 'create', '--name', 'Network team', '--item', fw, '--to', `${heir.email}:read-only`, '--to', `${reader.email}:read-only`, '--group', 'Ops:read-only-hidden'])).id;
    await owner.json(['share', 'create', '--name', 'Office', '--item', printer, '--to', `${heir.email}:editor`]);
    await heir.json(['share', 'accept', sid]);
    await reader.json(['share', 'accept', sid]);
    assert.deepEqual(await reader.sharedTitles('Network team'), ['Firewall']);
  });

  const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  const problems = watchPage(page);
  const row = () => page.locator('[data-testid="share-row"][data-name="Network team"]');

  await t.test('the admin sees every share with its name, owners and recipients', async () => {
    await page.goto(server.url + '/');
    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel('Master password').fill(PASSWORD);
    await page.getByLabel('Secret Key').fill(admin.secretKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 60000 });
    await page.getByTestId('portal-link').click();
    await page.getByRole('heading', { level: 1, name: 'Customers' }).waitFor({ timeout: 30000 });
    await page.getByRole('link', { name: 'Partner team' }).click();
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor({ timeout: 30000 });
    await page.getByRole('link', { name: 'Shares' }).click();
    await page.getByRole('heading', { level: 1, name: 'Shares' }).waitFor({ timeout: 30000 });
    await row().waitFor({ timeout: 30000 });
    assert.equal(await page.getByTestId('share-row').count(), 2);
    assert.equal((await row().getByTestId('share-owners').textContent()).trim(), owner.email);
    assert.equal((await row().getByTestId('share-items').textContent()).trim(), '1');
    const recipients = await row()
      .getByTestId('share-recipient')
      .evaluateAll((els) => els.map((e) => `${e.getAttribute('data-principal')}:${e.getAttribute('data-role')}`).sort());
    assert.deepEqual(recipients, [`${heir.email}:read_only`, 'Ops:read_only_hidden', `${reader.email}:read_only`].sort());
    assert.match(await row().textContent(), /Active/);
    const office = page.locator('[data-testid="share-row"][data-name="Office"]');
    assert.match(await office.textContent(), /heir@acme\.test\s*Editor/);
    await shot(page, 'portal-shares-01-list');
    // The filter narrows the list.
    await page.getByRole('searchbox', { name: 'Filter shares' }).fill('ops');
    await waitFor(async () => (await page.getByTestId('share-row').count()) === 1, 5000, 'one share matches');
    await page.getByRole('searchbox', { name: 'Filter shares' }).fill('');
  });

  await t.test('removing a reader: the company-signed list takes their access away', async () => {
    await row().getByRole('button', { name: 'Manage Network team' }).click();
    const dialog = page.getByTestId('share-dialog');
    await dialog.waitFor();
    await shot(page, 'portal-shares-02-manage');
    await dialog.getByRole('button', { name: `Remove ${reader.email}` }).click();
    await page.getByRole('button', { name: 'Remove recipient' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 30000 });
    await waitFor(async () => (await row().getByTestId('share-recipient').count()) === 2, 30000, 'the reader gone from the list');
    assert.deepEqual(await reader.sharedTitles('Network team'), []);
    const shares = await reader.json(['share', 'list']);
    assert.ok(!shares.some((s) => s.id === sid), 'the share left the reader');
  });

  await t.test('editors cannot be removed from the portal; ownership moves to a recipient', async () => {
    const office = page.locator('[data-testid="share-row"][data-name="Office"]');
    await office.getByRole('button', { name: 'Manage Office' }).click();
    let dialog = page.getByTestId('share-dialog');
    await dialog.getByText('Editors are removed by an owner').waitFor();
    assert.equal(await dialog.getByRole('button', { name: `Remove ${heir.email}` }).count(), 0);
    await dialog.getByRole('button', { name: 'Close' }).click();

    await row().getByRole('button', { name: 'Manage Network team' }).click();
    dialog = page.getByTestId('share-dialog');
    const form = dialog.getByRole('form', { name: 'Transfer ownership' });
    await form.getByLabel('New owner').selectOption({ label: heir.email });
    await form.getByRole('button', { name: 'Transfer…' }).click();
    await page.getByRole('button', { name: 'Transfer ownership' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 30000 });
    await waitFor(async () => (await row().getByTestId('share-owners').textContent()).trim() === heir.email, 30000, 'the new owner shown');
    assert.match(await row().textContent(), /owner@acme\.test\s*Editor/);
    await shot(page, 'portal-shares-03-transferred');
    // The Rust client verifies the company-signed list: the heir is the owner, the old owner an editor.
    await heir.run(['sync']);
    assert.equal((await heir.json(['share', 'show', sid])).role, 'owner');
    await owner.run(['sync']);
    assert.equal((await owner.json(['share', 'show', sid])).role, 'editor');
    assert.deepEqual(await heir.sharedTitles('Network team'), ['Firewall']);
    const overview = await admin.json(['admin', 'share', 'list', '--company', 'Acme']);
    const net = overview.find((s) => s.id === sid);
    assert.equal(net.name, 'Network team');
    assert.deepEqual(net.owners, [heir.email]);
  });

  await t.test('a member whose admin requires a new master password sets it in the browser; the CLI logs in with it', async () => {
    await admin.json(['admin', 'user', 'require-password-change', reader.email, '--company', 'Acme']);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
    const p = await ctx.newPage();
    const readerProblems = watchPage(p);
    await p.goto(server.url + '/');
    await p.getByLabel('Email').fill(reader.email);
    await p.getByLabel('Master password').fill(PASSWORD);
    await p.getByLabel('Secret Key').fill(reader.secretKey);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'New master password required' }).waitFor({ timeout: 60000 });
    const form = p.getByRole('form', { name: 'Choose a new master password' });
    await form.getByLabel('New master password', { exact: true }).fill('Reader-new-password-1');
    await form.getByLabel('Confirm new master password').fill('Reader-new-password-1');
    await shot(p, 'portal-shares-04-required-password-change');
    await form.getByRole('button', { name: 'Set new master password' }).click();
    await p.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 60000 });
    const old = await reader.run(['sync']);
    assert.equal(old.code, 3, `the CLI session was signed out by the change: ${old.stderr}`);
    const login = await cli(reader.home, server.url, ['login', '--email', reader.email, '--json'], { CASTELLAN_PASSWORD: 'Reader-new-password-1' });
    assert.equal(login.code, 0, login.stderr);
    assert.deepEqual(readerProblems.filter((x) => !/40[134]/.test(x)), []);
    await ctx.close();
  });

  await t.test('removing a member in the portal revokes their certificate in the signed list (P24)', async () => {
    // The admin's CLI session token reads the API directly.
    const state = JSON.parse(readFileSync(join(admin.home, 'device.json'), 'utf8'));
    const cid = state.org.my_company;
    const api = async (path) => {
      const r = await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${state.session_token}` } });
      assert.equal(r.status, 200, `GET ${path}`);
      return r.json();
    };
    const body = (doc) => JSON.parse(Buffer.from(doc.body, 'base64url').toString('utf8'));
    const member = (await api(`/companies/${cid}/members`)).members.find((m) => m.email === reader.email);
    const serial = body(member.cert).serial;
    assert.equal((await api(`/companies/${cid}/directory`)).revocations ?? null, null, 'no list before');

    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor({ timeout: 30000 });
    const readerRow = page.locator(`[data-testid="member-row"][data-email="${reader.email}"]`);
    await readerRow.getByLabel(`Actions for ${reader.email}`).click();
    await readerRow.getByRole('menuitem', { name: 'Remove from company…' }).click();
    await page.getByRole('button', { name: 'Remove', exact: true }).click();
    await readerRow.waitFor({ state: 'detached', timeout: 30000 });

    const dir = await api(`/companies/${cid}/directory`);
    assert.ok(dir.revocations, 'the directory serves a revocation list');
    const list = body(dir.revocations);
    assert.equal(list.company_id, cid);
    assert.equal(list.version, 1);
    assert.deepEqual(list.serials, [serial]);
    assert.equal(list.issued_by, state.user_id, "signed by the admin");
    assert.ok(!dir.members.some((m) => m.email === reader.email), 'the reader left the directory');
    // The Rust client verifies the browser-signed list, pins its version and shares nothing with the reader.
    const printer = (await heir.json(['item', 'add', '--profile', 'business', '--type', 'login', '--title', 'Badge reader'])).id;
    const refused = await heir.run(['share', 'create', '--name', 'Leftovers', '--item', printer, '--to', `${reader.email}:read-only`]);
    assert.notEqual(refused.code, 0, 'sharing to the removed member is refused');
    assert.match(refused.stderr, /valid certificate|not a confirmed member/);
    const heirState = JSON.parse(readFileSync(join(heir.home, 'device.json'), 'utf8'));
    assert.equal(heirState.shares.revocations[cid], 1, 'the CLI pinned the list the browser signed');
  });

  assert.deepEqual(problems.filter((p) => !/40[134]/.test(p)), []);
  await context.close();
});
