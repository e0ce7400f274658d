// End to end: account settings in Chromium against the real server, with the CLI as a second
// device. Sessions are listed and one is revoked; the master password changed in the browser
// signs the CLI out and works for `castellan login` (the old one does not); a password changed
// by the CLI works for "Sign in online" in the browser; "Sign out everywhere" ends every session.
// Screenshots: test-output/settings-*.png.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { cli, cliJson, freePort, launchBrowser, Server, shot, tmp, waitFor, watchPage } from './harness.mjs';

const EMAIL = 'settings@example.test';
const FIRST = 'first master password';
const SECOND = 'Second-master-password-2';
const THIRD = 'third master password from the CLI';
let server;
let browser;

before(async () => {
  server = new Server(tmp('settings-data'), await freePort());
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function cliLogin(home, password, secretKey) {
  const env = { CASTELLAN_PASSWORD: password };
  if (secretKey) env.CASTELLAN_SECRET_KEY = secretKey;
  return cli(home, server.url, ['login', '--email', EMAIL, '--device-name', 'castellan CLI (e2e)', '--json'], env);
}

async function openSettings(page, tab) {
  if (!(await page.getByTestId('settings').isVisible())) await page.getByRole('button', { name: 'Settings' }).click();
  const dialog = page.getByTestId('settings');
  await dialog.waitFor();
  await dialog.getByRole('tab', { name: tab }).click();
  return dialog;
}

test('account settings: sessions, master password change both ways with the CLI, sign out everywhere', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await context.newPage();
  const problems = watchPage(page);
  const home = tmp('settings-cli');
  let secretKey;

  await t.test('register in the browser and sign the CLI in as a second device', async () => {
    await page.goto(server.url + '/');
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Master password', { exact: true }).fill(FIRST);
    await page.getByLabel('Confirm master password').fill(FIRST);
    await page.getByRole('button', { name: 'Create account' }).click();
    secretKey = (await page.getByTestId('secret-key').textContent({ timeout: 60000 })).trim();
    await page.getByLabel('I have saved my Emergency Kit').check();
    await page.getByRole('button', { name: 'Open my vault' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 30000 });
    const r = await cliLogin(home, FIRST, secretKey);
    assert.equal(r.code, 0, r.stderr);
  });

  await t.test('the sessions list shows both devices; the CLI session is revoked from the browser', async () => {
    const dialog = await openSettings(page, 'Sessions');
    const rows = dialog.getByTestId('session-row');
    await waitFor(async () => (await rows.count()) === 2, 15000, 'two sessions');
    const current = dialog.locator('[data-testid="session-row"][data-current="true"]');
    assert.match(await current.textContent(), /Web vault \(Chrome\)[\s\S]*This browser/);
    assert.equal(await current.getByRole('button', { name: /Sign out/ }).count(), 0, 'the current session has no revoke button');
    const cliRow = dialog.locator('[data-testid="session-row"][data-device="castellan CLI (e2e)"]');
    await cliRow.waitFor();
    await shot(page, 'settings-01-sessions');
    await cliRow.getByRole('button', { name: 'Sign out castellan CLI (e2e)' }).click();
    await page.getByRole('button', { name: 'Sign out session' }).click();
    await waitFor(async () => (await rows.count()) === 1, 15000, 'the CLI session gone from the list');
    const sync = await cli(home, server.url, ['sync', '--json'], { CASTELLAN_PASSWORD: FIRST });
    assert.equal(sync.code, 3, `the revoked CLI session is refused: ${sync.stderr}`);
    const again = await cliLogin(home, FIRST, secretKey);
    assert.equal(again.code, 0, again.stderr);
  });

  await t.test('the password form checks the new password and refuses a wrong current one', async () => {
    const dialog = await openSettings(page, 'Master password');
    const form = dialog.getByRole('form', { name: 'Change master password' });
    await form.getByLabel('Current master password').fill('not my password');
    await form.getByLabel('New master password', { exact: true }).fill('short');
    await form.getByLabel('Confirm new master password').fill('shorter');
    await form.getByTestId('password-problems').waitFor();
    const text = await form.getByTestId('password-problems').textContent();
    assert.match(text, /at least 8 characters/);
    assert.match(text, /differ/);
    await form.getByLabel('New master password', { exact: true }).fill(SECOND);
    await form.getByLabel('Confirm new master password').fill(SECOND);
    assert.equal(await form.getByTestId('password-problems').count(), 0);
    assert.match(await form.getByTestId('strength').textContent(), /Strong|Good/);
    await shot(page, 'settings-02-password-form');
    await form.getByRole('button', { name: 'Change master password' }).click();
    await form.getByRole('alert').waitFor({ timeout: 60000 });
    assert.match(await form.getByRole('alert').textContent(), /current master password is wrong/);
    await shot(page, 'settings-03-password-wrong');
  });

  await t.test('the browser changes the master password: the CLI is signed out, the old password is refused, the new one logs in', async () => {
    const dialog = await openSettings(page, 'Master password');
    const form = dialog.getByRole('form', { name: 'Change master password' });
    await form.getByLabel('Current master password').fill(FIRST);
    await form.getByLabel('New master password', { exact: true }).fill(SECOND);
    await form.getByLabel('Confirm new master password').fill(SECOND);
    await form.getByRole('button', { name: 'Change master password' }).click();
    const ok = form.getByTestId('password-changed');
    await ok.waitFor({ timeout: 90000 });
    assert.match(await ok.textContent(), /1 other session was signed out/);
    await shot(page, 'settings-04-password-changed');

    const sync = await cli(home, server.url, ['sync', '--json'], { CASTELLAN_PASSWORD: FIRST });
    assert.equal(sync.code, 3, `the CLI session was revoked by the change: ${sync.stderr}`);
    const old = await cliLogin(home, FIRST, secretKey);
    assert.equal(old.code, 4, `the old password is refused: ${old.stderr}`);
    const fresh = tmp('settings-cli-2');
    const r = await cliLogin(fresh, SECOND, secretKey);
    assert.equal(r.code, 0, `the new password logs a new CLI device in: ${r.stderr}`);
    const again = await cliLogin(home, SECOND, null);
    assert.equal(again.code, 0, again.stderr);

    // The browser keeps working with its new session: an item made here reaches the CLI.
    await dialog.getByRole('button', { name: 'Close' }).last().click();
    await page.getByRole('button', { name: 'New item' }).click();
    const editor = page.getByRole('form', { name: 'New item' });
    await editor.getByLabel('Title', { exact: true }).fill('Made after the change');
    await editor.getByRole('button', { name: 'Save' }).click();
    await waitFor(async () => (await page.getByTestId('sync-state').textContent()).includes('All changes synced'), 30000, 'the item synced');
    const items = await waitFor(async () => {
      const list = await cliJson(fresh, server.url, ['item', 'list'], { CASTELLAN_PASSWORD: SECOND });
      return list.some((i) => i.title === 'Made after the change') && list;
    }, 30000, 'the CLI sees the item');
    assert.ok(items.length >= 1);
  });

  await t.test('the CLI changes the password; the browser signs in online with it and unlocks with it', async () => {
    const r = await cli(home, server.url, ['change-password', '--json'], { CASTELLAN_PASSWORD: SECOND, CASTELLAN_NEW_PASSWORD: THIRD });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).changed, true);
    await page.getByRole('button', { name: 'Lock' }).click();
    await page.getByRole('button', { name: 'Sign in online' }).click();
    await page.getByLabel('Master password').fill(SECOND);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor({ timeout: 60000 });
    assert.match(await page.getByRole('alert').textContent(), /wrong/i);
    await page.getByLabel('Master password').fill(THIRD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 60000 });
    await page.getByRole('button', { name: 'Lock' }).click();
    await page.getByLabel('Master password').fill(THIRD);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 60000 });
    await page.locator('[data-testid="item-row"][data-title="Made after the change"]').waitFor({ timeout: 30000 });
  });

  await t.test('the Emergency Kit shows the masked Secret Key and downloads the CLI layout', async () => {
    const dialog = await openSettings(page, 'Emergency Kit');
    const sk = dialog.getByTestId('settings-secret-key');
    assert.match(await sk.textContent(), /^CK1-•+-/);
    assert.ok(!(await sk.textContent()).includes(secretKey.slice(4, 10)));
    await shot(page, 'settings-05-emergency-kit');
    await dialog.getByRole('button', { name: 'Reveal' }).click();
    assert.equal((await sk.textContent()).trim(), secretKey);
    const [dl] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: 'Download Emergency Kit' }).click()]);
    const kit = readFileSync(await dl.path(), 'utf8');
    assert.match(kit, /^CASTELLAN EMERGENCY KIT\n/);
    assert.ok(kit.includes(`Secret Key:  ${secretKey}\n`));
    assert.ok(kit.includes(`Email:       ${EMAIL}\n`));
  });

  await t.test('sign out everywhere ends the CLI session and this one', async () => {
    const dialog = await openSettings(page, 'Sessions');
    await waitFor(async () => (await dialog.getByTestId('session-row').count()) >= 2, 15000, 'sessions listed');
    await dialog.getByRole('button', { name: 'Sign out everywhere…' }).click();
    await shot(page, 'settings-06-sign-out-everywhere');
    await page.getByRole('button', { name: 'Sign out everywhere', exact: true }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 30000 });
    const sync = await cli(home, server.url, ['sync', '--json'], { CASTELLAN_PASSWORD: THIRD });
    assert.equal(sync.code, 3, `the CLI session ended too: ${sync.stderr}`);
  });

  // 401/403/404 answers (a revoked session, the probe of a missing resource) are logged by the browser itself.
  assert.deepEqual(problems.filter((p) => !/40[134]/.test(p)), []);
  await context.close();
});
