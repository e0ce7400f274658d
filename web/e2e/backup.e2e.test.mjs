// End to end: organisation backup restore from the Customer Portal in Chromium, against the real
// server, with the Rust CLI as the admin's other device and as the member.
//
// 1. Offline key: the CLI admin enables backup (a Rust-made recovery kit and words); the CLI
//    member's Business items are backed up (`castellan backup now`); the member's account is
//    reset and re-registered; in the browser the admin is refused with mistyped words, another
//    key's words, another company's kit and a tampered backup (nothing is imported), then
//    restores with the kit into the member's NEW account; the member's CLI reads the items back.
// 2. Recovery Group: enabled from the portal, a member added and removed (new key), and the
//    admin restores as a group member into their own Business profile.
// Screenshots: test-output/backup-*.png.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, cli, cliJson, freePort, launchBrowser, Server, shot, tmp, waitFor, watchPage } from './harness.mjs';

const PASSWORD = 'backup e2e password 2026';
const env = { CASTELLAN_PASSWORD: PASSWORD };
const COMPANY = 'Backup MSP';
const MEMBER = 'member@backup.test';
const SENTINEL = 'PERSONAL-SENTINEL-3b1f';
let server;
let browser;

before(async () => {
  server = new Server(tmp('backup-data'), await freePort());
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The recovery words of a key, as words.rs encodes them (for a valid list of a wrong key). */
function wordsOf(key) {
  const rs = readFileSync(join(ROOT, 'crates/castellan-client/src/backup/words.rs'), 'utf8');
  const words = [...rs.slice(rs.indexOf('pub const WORDS'), rs.indexOf('];')).matchAll(/"([a-z]+)"/g)].map((m) => m[1]);
  const sum = createHash('sha256').update(Buffer.concat([Buffer.from('castellan/v1/backup-words'), key])).digest()[0];
  return [...key, sum].map((b) => words[b]).join(' ');
}

async function run(home, args) {
  const r = await cli(home, server.url, args, env);
  assert.equal(r.code, 0, `castellan ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function heading(page, text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor({ timeout: 30000 });
}

/** Registers `email` from an invitation link with the CLI and has the admin confirm them. */
async function join_(adminHome, email, link) {
  const home = tmp('backup-member');
  await cliJson(home, server.url, ['register', '--invite', link], env);
  await cliJson(adminHome, server.url, ['admin', 'user', 'confirm', email, '--company', COMPANY, '--yes'], env);
  return home;
}

/** (profile, title) of every item of a CLI device. */
async function items(home) {
  const list = await cliJson(home, server.url, ['item', 'list'], env);
  return list.map((i) => `${i.profile}:${i.title}`).sort();
}

function sql(stmt) {
  return execFileSync('sqlite3', [join(server.dataDir, 'castellan.sqlite3'), '.timeout 10000', stmt], { encoding: 'utf8' }).trim();
}

test('organisation backup: restore from the portal with the kit into the member\'s new account; Recovery Group mode', async (t) => {
  const token = (await waitFor(() => server.log.match(/Setup token: (\S+)/), 10000, 'the setup token'))[1];
  const adminHome = tmp('backup-admin');
  await cliJson(adminHome, server.url, ['register', '--email', 'admin@backup.test'], env);
  await cliJson(adminHome, server.url, ['admin', 'setup', '--token', token, '--name', COMPANY], env);
  const inv = await cliJson(adminHome, server.url, ['admin', 'user', 'invite', MEMBER, '--role', 'user', '--company', COMPANY], env);
  let memberHome = await join_(adminHome, MEMBER, inv.link);
  const kitPath = join(adminHome, 'kit.json');
  const enabled = await cliJson(adminHome, server.url, ['backup', 'enable', '--mode', 'offline-key', '--kit', kitPath], env);
  assert.equal(enabled.key_version, 1);

  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = watchPage(page);
  let companyId;
  let backupId;

  await t.test("the CLI member's Business items are backed up; their account is then reset", async () => {
    await run(memberHome, ['item', 'add', '--profile', 'business', '--type', 'login', '--title', 'Company VPN', '--username', MEMBER, '--password', 'vpn-pass-111']);
    await run(memberHome, ['item', 'add', '--profile', 'business', '--type', 'secure_note', '--title', 'Alarm code', '--notes', '4711', '--folder', 'Office']);
    await run(memberHome, ['item', 'add', '--profile', 'personal', '--title', SENTINEL, '--password', 'personal-pass']);
    const now = await cliJson(memberHome, server.url, ['backup', 'now'], env);
    assert.equal(now.items, 2, 'only the two Business items are backed up');
    backupId = now.backup_id;
    const reset = await cliJson(adminHome, server.url, ['admin', 'user', 'reset', MEMBER, '--company', COMPANY, '--yes'], env);
    memberHome = await join_(adminHome, MEMBER, reset.link);
    assert.deepEqual(await items(memberHome), [], 'the new account starts empty');
  });

  await t.test('the admin signs in in the browser and sees the backup points with a member filter', async () => {
    const device = JSON.parse(readFileSync(join(adminHome, 'device.json'), 'utf8'));
    await page.goto(server.url + '/');
    await page.getByLabel('Email').fill('admin@backup.test');
    await page.getByLabel('Master password').fill(PASSWORD);
    await page.getByLabel('Secret Key').fill(device.secret_key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 60000 });
    await page.getByTestId('portal-link').click();
    await heading(page, 'Customers');
    await page.getByRole('link', { name: 'Partner team' }).click();
    await heading(page, 'Users');
    companyId = page.url().match(/#\/company\/([0-9a-f-]{36})\//)[1];
    await page.getByRole('link', { name: 'Backup', exact: true }).click();
    await heading(page, 'Organisation backup');
    await page.getByTestId('backup-users').waitFor({ timeout: 30000 });
    assert.match(await page.getByTestId('backup-state').textContent(), /On[\s\S]*Offline key[\s\S]*1/);
    // Every sync that changed the Business profile wrote a point (the new account's too).
    const rows = page.locator(`[data-testid="backup-row"][data-email="${MEMBER}"]`);
    const n = await rows.count();
    assert.ok(n >= 2, `${n} points`);
    const mine = page.locator(`[data-testid="backup-row"][data-backup="${backupId}"]`);
    assert.match(await mine.textContent(), /member@backup\.test earlier account.*v1/, 'the reset account is marked');
    // The filter: only this member's points (the admin's own are hidden).
    await page.getByLabel('Filter by member').selectOption(MEMBER);
    assert.equal((await page.getByTestId('backup-count').textContent()).trim().split(' ')[0], String(n));
    assert.equal(await page.locator('[data-testid="backup-row"]').count(), n);
    await shot(page, 'backup-01-points');
  });

  const openRestore = async () => {
    await page.locator(`[data-testid="backup-row"][data-backup="${backupId}"]`).getByRole('button', { name: /^Restore the backup of/ }).click();
    const dlg = page.getByTestId('restore-dialog');
    await dlg.waitFor();
    return dlg;
  };

  await t.test('wrong words, another key, another company\'s kit and a tampered backup are refused clearly', async () => {
    const dlg = await openRestore();
    const form = dlg.getByRole('form', { name: 'Backup key' });
    // Mistyped: two words swapped (the checksum word catches it).
    const w = enabled.words.split(' ');
    const i = w.findIndex((x, n) => n < 31 && x !== w[n + 1]);
    [w[i], w[i + 1]] = [w[i + 1], w[i]];
    await form.getByLabel('Recovery words', { exact: true }).check();
    await form.getByRole('textbox', { name: 'Recovery words' }).fill(w.join(' '));
    await form.getByRole('button', { name: 'Verify and open' }).click();
    await form.getByRole('alert').waitFor();
    assert.match(await form.getByRole('alert').textContent(), /The recovery words do not check out \(a word is mistyped or missing\)/);
    await shot(page, 'backup-02-wrong-words');
    // 33 valid words of another key (another company's, or a retired one).
    await form.getByRole('textbox', { name: 'Recovery words' }).fill(wordsOf(randomBytes(32)));
    await form.getByRole('button', { name: 'Verify and open' }).click();
    await waitFor(async () => /This backup \(key version 1\) was sealed to another backup key than the one given/.test(await form.getByRole('alert').textContent()), 15000, 'wrong key refused');
    // The kit of another company.
    const kit = JSON.parse(readFileSync(kitPath, 'utf8'));
    const otherKit = join(tmp('other-kit'), 'other-company-kit.json');
    writeFileSync(otherKit, JSON.stringify({ ...kit, company_id: '0190aaaa-0000-7000-8000-000000000001' }, null, 2));
    await form.getByLabel('Recovery kit file', { exact: true }).check();
    await form.locator('input[type="file"]').setInputFiles(otherKit);
    await form.getByRole('button', { name: 'Verify and open' }).click();
    await waitFor(async () => /other-company-kit\.json is the recovery kit of another company/.test(await form.getByRole('alert').textContent()), 15000, 'foreign kit refused');
    // A tampered backup: one byte of the stored envelope flipped; refused before opening.
    const bid = backupId;
    const original = sql(`SELECT hex(envelope) FROM backups WHERE backup_id = '${bid}'`);
    const mid = original.length / 2;
    const flipped = original.slice(0, mid) + ((parseInt(original[mid], 16) ^ 1).toString(16).toUpperCase()) + original.slice(mid + 1);
    sql(`UPDATE backups SET envelope = X'${flipped}' WHERE backup_id = '${bid}'`);
    await form.locator('input[type="file"]').setInputFiles(kitPath);
    await form.getByRole('button', { name: 'Verify and open' }).click();
    await waitFor(async () => /Refused for your security: the backup is not signed by the user's certified key \(tampered or forged\)/.test(await form.getByRole('alert').textContent()), 15000, 'tampered backup refused');
    await shot(page, 'backup-03-tampered');
    sql(`UPDATE backups SET envelope = X'${original}' WHERE backup_id = '${bid}'`);
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    // Nothing reached the member.
    await run(memberHome, ['sync']);
    assert.deepEqual(await items(memberHome), []);
  });

  await t.test("the admin restores with the Rust-made kit into the member's new account; the member's CLI reads the items", async () => {
    const dlg = await openRestore();
    const form = dlg.getByRole('form', { name: 'Backup key' });
    await form.getByLabel('Recovery kit file', { exact: true }).check();
    await form.locator('input[type="file"]').setInputFiles(kitPath);
    await shot(page, 'backup-04-restore-dialog');
    await form.getByRole('button', { name: 'Verify and open' }).click();
    const verified = dlg.getByTestId('restore-verified');
    await verified.waitFor({ timeout: 30000 });
    assert.match(await verified.textContent(), /Verified\.[\s\S]*member@backup\.test's certified key[\s\S]*2 Business item/);
    const titles = await dlg.getByTestId('restore-titles').textContent();
    assert.match(titles, /Company VPN/);
    assert.match(titles, /Alarm code/);
    assert.doesNotMatch(titles, /SENTINEL/);
    const to = dlg.getByRole('form', { name: 'Restore to' });
    assert.equal(await to.getByLabel(/account \(handover/).isChecked(), true, 'the handover is the default');
    await shot(page, 'backup-05-verified');
    await to.getByRole('button', { name: 'Restore 2 item(s)' }).click();
    await dlg.getByTestId('restore-done').waitFor({ timeout: 30000 });
    assert.match(await dlg.getByTestId('restore-done').textContent(), /2 item\(s\) handed over to member@backup\.test's account/);
    await shot(page, 'backup-06-restored');
    await dlg.getByRole('button', { name: 'Close' }).click();

    // The member's client verifies the handover (admin certificate and signature) at its sync,
    // queues the items as new Business items and sends them at the next one.
    await run(memberHome, ['sync']);
    await run(memberHome, ['sync']);
    assert.deepEqual(await items(memberHome), ['business:Alarm code', 'business:Company VPN']);
    assert.equal((await run(memberHome, ['item', 'get', 'Company VPN', '--field', 'password'])).trim(), 'vpn-pass-111');
    assert.equal((await run(memberHome, ['item', 'get', 'Company VPN', '--field', 'username'])).trim(), MEMBER);
    assert.equal((await run(memberHome, ['item', 'get', 'Alarm code', '--field', 'notes'])).trim(), '4711');

    // Audited by the server: the download, the handover and the restore.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await heading(page, 'Audit log');
    const filters = page.getByRole('form', { name: 'Audit filters' });
    await filters.getByLabel('Event type').fill('backup');
    await filters.getByRole('button', { name: 'Apply' }).click();
    const events = await waitFor(async () => {
      const ev = await page.locator('[data-testid="audit-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')));
      return ev.includes('backup.restored') ? ev : null;
    }, 15000, 'the restore in the audit log');
    assert.ok(events.includes('backup.handed_over') && events.includes('backup.downloaded'), events.join(','));
  });

  await t.test('Recovery Group mode: enabled in the portal, a member added and removed (new key), restore into my Business profile', async () => {
    await page.getByRole('link', { name: 'Backup', exact: true }).click();
    await heading(page, 'Organisation backup');
    await page.getByRole('button', { name: 'Enable with a Recovery Group' }).click();
    await page.getByRole('button', { name: 'Create the Recovery Group' }).click();
    const rg = page.getByTestId('recovery-group');
    await rg.waitFor({ timeout: 30000 });
    await waitFor(async () => /On[\s\S]*Recovery Group[\s\S]*2/.test(await page.getByTestId('backup-state').textContent()), 15000, 'recovery-group mode');
    await rg.locator('[data-testid="rg-member"][data-email="admin@backup.test"]').waitFor({ timeout: 15000 });
    // The member's CLI verifies the new signed policy and seals its next backup to the group key.
    await run(memberHome, ['item', 'add', '--profile', 'business', '--title', 'Wiki admin', '--username', 'wiki', '--password', 'wiki-pass-333']);
    const now = await cliJson(memberHome, server.url, ['backup', 'now'], env);
    assert.equal(now.items, 3);
    const groupBackup = now.backup_id;
    // Add the member to the group, then remove them: a new Recovery Group and key version 3.
    await rg.getByLabel('Add a confirmed member').selectOption({ label: MEMBER });
    await rg.getByRole('button', { name: 'Add to the group' }).click();
    await rg.locator(`[data-testid="rg-member"][data-email="${MEMBER}"]`).waitFor({ timeout: 15000 });
    await shot(page, 'backup-07-recovery-group');
    await rg.getByRole('button', { name: `Remove ${MEMBER} from the Recovery Group` }).click();
    await page.getByRole('button', { name: 'Remove and make a new key' }).click();
    await waitFor(async () => /Recovery Group[\s\S]*Key version\s*3/.test(await page.getByTestId('backup-state').textContent()), 15000, 'key version 3');
    await waitFor(async () => (await rg.locator('[data-testid="rg-member"]').count()) === 1, 15000, 'one member left');

    // Restore the key-version-2 backup as a group member into my own Business profile.
    const row = page.locator(`[data-testid="backup-row"][data-backup="${groupBackup}"]`);
    await row.waitFor({ timeout: 30000 });
    await row.getByRole('button', { name: /^Restore the backup of/ }).click();
    const dlg = page.getByTestId('restore-dialog');
    const form = dlg.getByRole('form', { name: 'Backup key' });
    assert.equal(await form.getByLabel('My Recovery Group membership').isChecked(), true, 'group mode preselects the group key');
    await form.getByRole('button', { name: 'Verify and open' }).click();
    await dlg.getByTestId('restore-verified').waitFor({ timeout: 30000 });
    const to = dlg.getByRole('form', { name: 'Restore to' });
    await to.getByLabel(/My Business profile/).check();
    await to.getByRole('button', { name: 'Restore 3 item(s)' }).click();
    await dlg.getByTestId('restore-done').waitFor({ timeout: 30000 });
    assert.match(await dlg.getByTestId('restore-done').textContent(), /3 item\(s\) imported into your Business profile/);
    await dlg.getByRole('button', { name: 'Close' }).click();
    // The admin's CLI (same account) syncs what the browser wrote.
    await waitFor(async () => {
      await run(adminHome, ['sync']);
      return (await items(adminHome)).includes('business:Wiki admin');
    }, 30000, 'the restored items on the admin CLI');
    assert.equal((await run(adminHome, ['item', 'get', 'Wiki admin', '--field', 'password'])).trim(), 'wiki-pass-333');
    const folders = await run(adminHome, ['folder', 'list']);
    assert.match(folders, /Restored member@backup\.test/);
    // The Groups page shows both Recovery Groups (the old one serves older backups) read-only.
    await page.getByRole('link', { name: 'Groups' }).click();
    await heading(page, 'Groups');
    const cards = page.locator('[data-testid="group-card"][data-name="Recovery Group"]');
    await waitFor(async () => (await cards.count()) === 2, 15000, 'two Recovery Groups');
    assert.equal(await cards.getByRole('button', { name: 'Edit' }).count(), 0, 'no Edit on a Recovery Group');
  });

  assert.deepEqual(problems.filter((p) => !/40[0-9]|422/.test(p)), []);
  await context.close();
});
