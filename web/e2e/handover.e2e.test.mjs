// End to end: organisation backup for a member who uses ONLY the web vault, against the real
// server, with the Rust CLI as the admin.
//
// 1. Handover: the CLI member's Business items are backed up; their account is reset and the
//    member registers the new account in the browser. The admin restores the backup "into the
//    user" with the CLI (`backup restore --into user`); a handover whose bytes were changed in the
//    server's database is refused in the browser with a clear warning and nothing is imported;
//    a genuine one is verified and its items appear in the member's Business profile.
// 2. Backups written by the browser: the member adds a Business item and a Personal one in the
//    browser; the browser writes a backup after the sync; the admin restores the newest point into
//    their own Business profile with the CLI and reads the browser's Business item back, and no
//    Personal item.
// Screenshots: test-output/handover-*.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, cliJson, freePort, launchBrowser, Server, shot, sleep, tmp, waitFor, watchPage } from './harness.mjs';

const PASSWORD = 'handover e2e password 2026';
const env = { CASTELLAN_PASSWORD: PASSWORD };
const COMPANY = 'Handover MSP';
const ADMIN = 'admin@handover.test';
const MEMBER = 'member@handover.test';
const SENTINEL = 'PERSONAL-SENTINEL-9c4e';
let server;
let browser;

before(async () => {
  server = new Server(tmp('handover-data'), await freePort());
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function run(home, args) {
  const r = await cli(home, server.url, args, env);
  assert.equal(r.code, 0, `castellan ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function sql(stmt) {
  return execFileSync('sqlite3', [join(server.dataDir, 'castellan.sqlite3'), '.timeout 10000', stmt], { encoding: 'utf8' }).trim();
}

function row(page, title) {
  return page.locator(`[data-testid="item-row"][data-title="${title}"]`);
}

/** (profile, title) of every item of a CLI device. */
async function items(home) {
  const list = await cliJson(home, server.url, ['item', 'list'], env);
  return list.map((i) => `${i.profile}:${i.title}`).sort();
}

/** Backup points of `email` (all their accounts), as the CLI admin lists them. */
async function points(adminHome, email) {
  const list = await cliJson(adminHome, server.url, ['backup', 'list', '--user', email], env);
  return list.users.flatMap((u) => u.points);
}

/** Opens the page and unlocks the vault kept in this browser (the "on unlock" path). */
async function unlock(page) {
  await page.goto(server.url + '/');
  await page.getByRole('heading', { name: 'Unlock' }).waitFor({ timeout: 30000 });
  await page.getByLabel('Master password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Unlock' }).click();
  await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 60000 });
}

test('organisation backup for a browser-only member: handovers imported (or refused), backups written', async (t) => {
  const token = (await waitFor(() => server.log.match(/Setup token: (\S+)/), 10000, 'the setup token'))[1];
  const adminHome = tmp('handover-admin');
  await cliJson(adminHome, server.url, ['register', '--email', ADMIN], env);
  await cliJson(adminHome, server.url, ['admin', 'setup', '--token', token, '--name', COMPANY], env);
  const kitPath = join(adminHome, 'kit.json');
  await cliJson(adminHome, server.url, ['backup', 'enable', '--mode', 'offline-key', '--kit', kitPath], env);
  const restoreArgs = (into, extra = []) => ['backup', 'restore', '--user', MEMBER, '--key-file', kitPath, '--into', into, '--company', COMPANY, ...extra];

  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const problems = watchPage(page);
  let oldBackupAt;

  await t.test("the CLI member's Business items are backed up; the new account is made in the browser", async () => {
    const inv = await cliJson(adminHome, server.url, ['admin', 'user', 'invite', MEMBER, '--role', 'user', '--company', COMPANY], env);
    const cliMember = tmp('handover-old-member');
    await cliJson(cliMember, server.url, ['register', '--invite', inv.link], env);
    await cliJson(adminHome, server.url, ['admin', 'user', 'confirm', MEMBER, '--company', COMPANY, '--yes'], env);
    await run(cliMember, ['item', 'add', '--profile', 'business', '--type', 'login', '--title', 'Company VPN', '--username', MEMBER, '--password', 'vpn-pass-111']);
    await run(cliMember, ['item', 'add', '--profile', 'business', '--type', 'secure_note', '--title', 'Alarm code', '--notes', '4711', '--folder', 'Office']);
    await run(cliMember, ['item', 'add', '--profile', 'personal', '--title', SENTINEL, '--password', 'personal-pass']);
    const now = await cliJson(cliMember, server.url, ['backup', 'now'], env);
    assert.equal(now.items, 2);
    oldBackupAt = (await points(adminHome, MEMBER)).find((p) => p.backup_id === now.backup_id).created_at;
    const reset = await cliJson(adminHome, server.url, ['admin', 'user', 'reset', MEMBER, '--company', COMPANY, '--yes'], env);

    // The member now uses only the browser: they join again from the reset link.
    await page.goto(reset.link);
    await page.getByRole('heading', { level: 1, name: `Join ${COMPANY}` }).waitFor({ timeout: 30000 });
    const form = page.getByRole('form', { name: 'Create your account and join' });
    await form.getByLabel('Master password', { exact: true }).fill(PASSWORD);
    await form.getByLabel('Confirm master password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Create account and join' }).click();
    await page.getByTestId('secret-key').waitFor({ timeout: 60000 });
    await page.getByLabel('I have saved my Emergency Kit').check();
    await page.getByRole('button', { name: 'Open my vault' }).click();
    await page.getByTestId('empty-list').waitFor({ timeout: 30000 });
    await cliJson(adminHome, server.url, ['admin', 'user', 'confirm', MEMBER, '--company', COMPANY, '--yes'], env);
  });

  await t.test('a handover changed on the server is refused with a warning; nothing is imported', async () => {
    // Close the vault so that the browser does not look for handovers while the test edits one.
    await page.goto('about:blank');
    await run(adminHome, restoreArgs('user', ['--at', String(oldBackupAt)]));
    const id = sql('SELECT hex(id) FROM backup_handovers');
    assert.ok(id, 'one handover waits for the member');
    const sealed = sql(`SELECT hex(sealed) FROM backup_handovers WHERE hex(id) = '${id}'`);
    const mid = sealed.length / 2;
    const flipped = sealed.slice(0, mid) + (parseInt(sealed[mid], 16) ^ 1).toString(16).toUpperCase() + sealed.slice(mid + 1);
    sql(`UPDATE backup_handovers SET sealed = X'${flipped}' WHERE hex(id) = '${id}'`);

    await unlock(page);
    const warning = page.getByTestId('backup-notice-refused');
    await warning.waitFor({ timeout: 30000 });
    assert.match(await warning.textContent(), /Restored items an administrator sent you were refused for your security and not imported: the administrator's signature does not verify \(tampered or forged\)/);
    assert.equal(await page.getByTestId('item-row').count(), 0, 'nothing was imported');
    assert.equal(sql('SELECT count(*) FROM backup_handovers'), '1', 'the refused handover is not acknowledged');
    await shot(page, 'handover-01-refused');
    sql('DELETE FROM backup_handovers');
  });

  await t.test("the admin restores into the member's account; the browser verifies and imports the items", async () => {
    await page.goto('about:blank');
    const r = JSON.parse(await run(adminHome, [...restoreArgs('user', ['--at', String(oldBackupAt)]), '--json']));
    assert.equal(r.items, 2, JSON.stringify(r));
    await unlock(page);
    await row(page, 'Company VPN').waitFor({ timeout: 30000 });
    await row(page, 'Alarm code').waitFor();
    const notice = page.getByTestId('backup-notice-restored');
    await notice.waitFor();
    assert.match(await notice.textContent(), /Your administrator restored 2 items from the organisation backup into your Business profile\./);
    assert.equal(await page.getByTestId('backup-notice-refused').count(), 0, 'the refused one is gone with its handover');
    // In the Business profile, synced, and readable.
    await page.getByRole('group', { name: 'Profile' }).getByRole('button', { name: 'Business', exact: true }).click();
    await waitFor(async () => (await row(page, 'Company VPN').getAttribute('data-status')) === 'synced', 30000, 'the restored items synced');
    assert.equal(await page.getByTestId('item-row').count(), 2);
    await page.getByRole('group', { name: 'Profile' }).getByRole('button', { name: 'Personal', exact: true }).click();
    await page.getByTestId('empty-list').waitFor();
    await page.getByRole('group', { name: 'Profile' }).getByRole('button', { name: 'Business', exact: true }).click();
    await row(page, 'Company VPN').click();
    const detail = page.getByRole('region', { name: 'Item details' });
    await detail.getByRole('button', { name: 'Reveal Password' }).click();
    await detail.getByText('vpn-pass-111').waitFor({ timeout: 10000 });
    await shot(page, 'handover-02-restored');
    // Acknowledged: the handover is deleted on the server, and not imported twice.
    await waitFor(() => sql('SELECT count(*) FROM backup_handovers') === '0', 15000, 'the handover deleted');
    await unlock(page);
    await row(page, 'Company VPN').waitFor({ timeout: 30000 });
    await sleep(1500);
    assert.equal(await page.getByTestId('item-row').count(), 2, 'imported once');
  });

  await t.test("the browser writes backups of the Business profile only; the admin restores the browser's item", async () => {
    const before = (await points(adminHome, MEMBER)).length;
    const add = async (profile, title, password) => {
      await page.getByRole('button', { name: 'New item' }).click();
      const form = page.getByRole('form', { name: 'New item' });
      await form.getByLabel('Profile', { exact: true }).selectOption(profile);
      await form.getByLabel('Title', { exact: true }).fill(title);
      await form.getByLabel('Password', { exact: true }).fill(password);
      await form.getByRole('button', { name: 'Save' }).click();
    };
    await page.getByRole('group', { name: 'Profile' }).getByRole('button', { name: 'All', exact: true }).click();
    await add('personal', SENTINEL, 'browser-personal-pass');
    await add('business', 'Browser-only secret', 'browser-business-pass');
    await waitFor(async () => (await row(page, 'Browser-only secret').getAttribute('data-status')) === 'synced', 30000, 'the new item synced');
    const pts = await waitFor(async () => {
      const p = await points(adminHome, MEMBER);
      return p.length > before ? p : null;
    }, 30000, 'a backup point written by the browser');
    assert.ok(pts.length > before);

    const restored = await cliJson(adminHome, server.url, restoreArgs('me'), env);
    await run(adminHome, ['sync']);
    const got = await items(adminHome);
    assert.ok(got.includes('business:Browser-only secret'), got.join(', '));
    assert.ok(got.includes('business:Company VPN'), got.join(', '));
    assert.ok(!got.some((x) => x.includes(SENTINEL)), 'no Personal item in the backup');
    assert.equal(restored.items, 3, JSON.stringify(restored));
    assert.equal((await run(adminHome, ['item', 'get', 'Browser-only secret', '--field', 'password'])).trim(), 'browser-business-pass');
    await shot(page, 'handover-03-browser-backup');
  });

  assert.deepEqual(problems.filter((p) => !/40[0-9]|422/.test(p)), []);
});
