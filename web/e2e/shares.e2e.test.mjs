// End to end: shares between the browser and the CLI against the real server. A company is set
// up with the CLI (partner admin), a browser user joins through an invitation link and a CLI
// user through the CLI; both are confirmed by the admin. (a) The CLI admin shares to the browser
// user, read-only: after Accept the share appears under "Shared folders" with its name, its items
// open, the folder cannot be renamed and (c) the read-only recipient cannot edit. (b) The browser
// user shares Business items to the CLI user, who accepts and reads them with the CLI. Screenshots:
// web/test-output/shares-*.png.
import assert from 'node:assert/strict';
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

const env = { CASTELLAN_PASSWORD: PASSWORD };

test('shares between the browser and the CLI', async (t) => {
  const token = (await waitFor(() => server.log.match(/Setup token: (\S+)/), 10000, 'the setup token'))[1];
  const admin = tmp('shares-admin');
  const cliUser = tmp('shares-cli-user');
  const run = (home, args) => cliJson(home, server.url, args, env);

  // The company: a partner set up by the CLI admin, a browser member and a CLI member.
  await run(admin, ['register', '--server', server.url, '--email', 'owner@acme.test']);
  await run(admin, ['admin', 'setup', '--token', token, '--name', 'Acme']);
  const browserInvite = await run(admin, ['admin', 'user', 'invite', 'web@acme.test', '--role', 'user', '--company', 'Acme']);
  const cliInvite = await run(admin, ['admin', 'user', 'invite', 'cli@acme.test', '--role', 'user', '--company', 'Acme']);
  await run(cliUser, ['register', '--invite', cliInvite.link, '--server', server.url]);
  await run(admin, ['admin', 'user', 'confirm', 'cli@acme.test', '--company', 'Acme', '--yes']);

  const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(browserInvite.link);
  const join = page.getByRole('form', { name: 'Create your account and join' });
  await join.getByLabel('Master password', { exact: true }).fill(PASSWORD);
  await join.getByLabel('Confirm master password').fill(PASSWORD);
  await join.getByRole('button', { name: 'Create account and join' }).click();
  await page.getByTestId('secret-key').waitFor({ timeout: 60000 });
  await page.getByLabel('I have saved my Emergency Kit').check();
  await page.getByRole('button', { name: 'Open my vault' }).click();
  await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 30000 });
  await run(admin, ['admin', 'user', 'confirm', 'web@acme.test', '--company', 'Acme', '--yes']);

  const shared = page.getByTestId('shared-folders');
  const row = (title) => page.locator(`[data-testid="item-row"][data-title="${title}"]`);

  await t.test('(a) a share from the CLI appears after Accept under its name, readable, not renamable', async () => {
    await run(admin, ['item', 'add', '--profile', 'business', '--type', 'login', '--title', 'Router', '--username', 'admin', '--password', 'r0uter-secret']);
    await run(admin, ['item', 'add', '--profile', 'business', '--type', 'login', '--title', 'Mail', '--password', 'm4il', '--folder', 'Ops']);
    await run(admin, ['share', 'create', '--name', 'Network team', '--item', 'Router', '--folder', 'Ops', '--to', 'web@acme.test:read-only']);
    const invite = shared.locator('[data-testid="share-invite"][data-name="Network team"]');
    await invite.waitFor({ timeout: 30000 });
    assert.match(await invite.textContent(), /owner@acme\.test/, 'the invitation names the owner from the verified directory');
    await invite.getByRole('button', { name: 'Accept' }).click();
    const folder = shared.locator('[data-share="Network team"]');
    await folder.waitFor({ timeout: 30000 });
    assert.equal((await folder.getByTestId('role-badge').textContent()).trim(), 'Read-only');
    await folder.click();
    assert.equal((await page.getByTestId('share-title').textContent()).trim(), 'Network team');
    await row('Router').waitFor({ timeout: 30000 });
    // The share's subfolder is a tree under the share, its items listed there (not flat).
    assert.equal(await row('Mail').count(), 0, 'items of a subfolder are not listed at the top of the share');
    const ops = shared.locator('[data-share-folder="Network team/Ops"]');
    await ops.waitFor({ timeout: 30000 });
    await ops.click();
    await row('Mail').waitFor({ timeout: 30000 });
    assert.equal(await row('Router').count(), 0);
    assert.equal((await page.getByTestId('share-title').textContent()).trim(), 'Network team');
    assert.equal(await page.getByRole('button', { name: 'Rename folder' }).count(), 0, 'a read-only share folder has no folder actions');
    await folder.click();
    await row('Router').waitFor({ timeout: 30000 });
    await row('Router').click();
    await waitFor(async () => (await page.getByTestId('detail-title').textContent()) === 'Router', 10000, 'the shared item');
    await page.getByRole('button', { name: 'Reveal Password' }).click();
    assert.equal((await page.locator('[data-field="Password"]').textContent()).trim(), 'r0uter-secret');
    await shot(page, 'shares-01-shared-folder');
    // No rename affordance; trying it (double-click, F2) explains why.
    assert.equal(await page.getByRole('button', { name: 'Rename folder' }).count(), 0);
    await folder.dblclick();
    assert.match(await page.getByTestId('share-note').textContent(), /cannot be renamed/);
    // The share folder is not one of the Business folders.
    assert.equal(await page.locator('section[aria-label="business folders"] [data-folder="Ops"]').count(), 0);
  });

  await t.test('(c) a read-only recipient cannot edit or delete', async () => {
    await row('Router').click();
    await page.getByTestId('read-only-note').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Edit', exact: true }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Move to trash' }).count(), 0);
    // Adding an item to the shared folder is refused with a clear message.
    await page.getByRole('button', { name: 'New item' }).click();
    await page.getByText('only its owners and editors can add items').waitFor();
  });

  await t.test('read-only with the password hidden: neither shown nor copyable, said to be client-side', async () => {
    const owned = await run(admin, ['share', 'list']);
    const net = owned.find((s) => s.name === 'Network team');
    await run(admin, ['share', 'set-role', net.id, '--user', 'web@acme.test', '--role', 'read-only-hidden']);
    await page.reload();
    await page.getByLabel('Master password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Unlock' }).click();
    const folder = shared.locator('[data-share="Network team"]');
    await waitFor(async () => (await folder.getByTestId('role-badge').textContent()).trim() === 'Hidden', 30000, 'the new role');
    await folder.click();
    await row('Router').click();
    const hidden = page.getByTestId('hidden-secret');
    await hidden.waitFor({ timeout: 30000 });
    assert.match(await hidden.getAttribute('title'), /client-side restriction/);
    assert.equal(await page.getByRole('button', { name: 'Copy Password' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Reveal Password' }).count(), 0);
    assert.ok(!(await page.locator('.detail').textContent()).includes('r0uter-secret'));
    await shot(page, 'shares-04-password-hidden');
  });

  let sid;
  await t.test('(b) a share made in the browser is readable by the CLI user', async () => {
    // Two Business items made in the browser.
    for (const [title, pw] of [['Wiki admin', 'w1ki-pass'], ['Backup NAS', 'n4s-pass']]) {
      await page.getByRole('button', { name: 'All items' }).click();
      await page.getByRole('button', { name: 'New item' }).click();
      const form = page.getByRole('form', { name: 'New item' });
      await form.getByLabel('Profile').selectOption('business');
      await form.getByLabel('Title').fill(title);
      await form.locator('input[name="password"]').fill(pw);
      await form.getByRole('button', { name: 'Save' }).click();
      await waitFor(async () => (await row(title).getAttribute('data-status')) === 'synced', 30000, `${title} synced`);
    }
    await page.getByRole('button', { name: 'Share items' }).click();
    const dialog = page.getByTestId('share-dialog');
    const form = dialog.getByRole('form', { name: 'Share items' });
    await form.getByLabel('Name of the shared folder').fill('Web ops');
    await form.getByRole('group', { name: 'Items to share' }).getByLabel('Wiki admin').check();
    await form.getByRole('group', { name: 'Items to share' }).getByLabel('Backup NAS').check();
    await form.getByLabel('Person or group').fill('nobody@else.test');
    await form.getByRole('button', { name: 'Add', exact: true }).click();
    await form.getByText('is not a confirmed member or group').waitFor();
    await form.getByLabel('Person or group').fill('cli@acme.test');
    await form.getByLabel('Role of the new recipient').selectOption('editor');
    await form.getByRole('button', { name: 'Add', exact: true }).click();
    await form.getByTestId('recipient-row').waitFor();
    await shot(page, 'shares-02-share-dialog');
    await form.getByRole('button', { name: 'Share', exact: true }).click();
    await dialog.waitFor({ state: 'detached', timeout: 60000 });
    const folder = shared.locator('[data-share="Web ops"]');
    await folder.waitFor({ timeout: 30000 });
    assert.equal((await folder.getByTestId('role-badge').textContent()).trim(), 'Owner');
    await row('Wiki admin').waitFor({ timeout: 30000 });
    await waitFor(async () => (await page.getByTestId('sync-state').textContent()).includes('All changes synced'), 30000, 'the move synced');

    const list = await run(cliUser, ['share', 'list']);
    const inv = list.find((s) => s.state === 'invited');
    assert.ok(inv, `the CLI user has an invitation: ${JSON.stringify(list)}`);
    sid = inv.id;
    await run(cliUser, ['share', 'accept', sid]);
    const items = await run(cliUser, ['item', 'list']);
    const titles = items.filter((i) => i.share === 'Web ops').map((i) => i.title).sort();
    assert.deepEqual(titles, ['Backup NAS', 'Wiki admin']);
    const wiki = items.find((i) => i.title === 'Wiki admin');
    assert.equal(wiki.share_role, 'editor');
    const pw = await cli(cliUser, server.url, ['item', 'get', wiki.id, '--field', 'password'], env);
    assert.equal(pw.code, 0, pw.stderr);
    assert.equal(pw.stdout.trim(), 'w1ki-pass');
    // The CLI editor's change reaches the browser (author = the CLI user, manifest signed by them).
    await run(cliUser, ['item', 'edit', wiki.id, '--username', 'edited-by-cli']);
    await row('Wiki admin').click();
    await waitFor(async () => (await page.locator('[data-field="Username"]').textContent().catch(() => '')).includes('edited-by-cli'), 30000, "the CLI editor's change in the browser");
  });

  await t.test('the owner manages recipients: role change, removal rotates the key', async () => {
    await shared.locator('[data-share="Web ops"]').click();
    await page.getByRole('button', { name: 'Manage sharing' }).click();
    const dialog = page.getByTestId('manage-share-dialog');
    const cliRow = dialog.locator('[data-testid="recipient-row"][data-name="cli@acme.test"]');
    await cliRow.waitFor({ timeout: 30000 });
    await cliRow.getByLabel('Role of cli@acme.test').selectOption('read_only');
    await waitFor(async () => (await cliRow.getByLabel('Role of cli@acme.test').inputValue()) === 'read_only' && !(await cliRow.getByRole('button', { name: 'Remove' }).isDisabled()), 60000, 'the role change');
    const items = await run(cliUser, ['item', 'list']);
    assert.equal(items.find((i) => i.title === 'Wiki admin').share_role, 'read-only');
    // A second recipient, added by the browser owner: they read on after the rotation below.
    await dialog.getByLabel('Person or group').fill('owner@acme.test');
    await dialog.getByLabel('Role of the new recipient').selectOption('read_only');
    await dialog.getByRole('button', { name: 'Add', exact: true }).click();
    await dialog.locator('[data-testid="recipient-row"][data-name="owner@acme.test"]').waitFor({ timeout: 60000 });
    await shot(page, 'shares-03-manage');
    await run(admin, ['share', 'accept', sid]);
    assert.deepEqual((await run(admin, ['item', 'list'])).filter((i) => i.share === 'Web ops').map((i) => i.title).sort(), ['Backup NAS', 'Wiki admin']);
    page.once('dialog', (d) => d.accept());
    await cliRow.getByRole('button', { name: 'Remove' }).click();
    await dialog.getByText('Key rotated.').waitFor({ timeout: 60000 });
    await dialog.getByRole('button', { name: 'Close' }).click();
    const after = await run(cliUser, ['item', 'list']);
    assert.equal(after.filter((i) => i.share === 'Web ops').length, 0, 'the removed recipient lost the share');
    // The remaining recipient's CLI verifies the rotated share (new key version, re-wrapped objects, owner-signed manifest).
    const shown = await run(admin, ['share', 'show', sid]);
    // Two rotations: demoting the editor (a writer who loses the right to write) and the removal.
    assert.equal(shown.key_version, 3);
    const adminItems = await run(admin, ['item', 'list']);
    const nas = adminItems.find((i) => i.title === 'Backup NAS' && i.share === 'Web ops');
    assert.ok(nas, 'the remaining recipient still reads the share');
    const pw = await cli(admin, server.url, ['item', 'get', nas.id, '--field', 'password'], env);
    assert.equal(pw.stdout.trim(), 'n4s-pass', pw.stderr);
    // The owner still reads everything under the new key.
    await row('Backup NAS').click();
    await waitFor(async () => (await page.getByTestId('detail-title').textContent()) === 'Backup NAS', 10000, 'the item under the new key');
  });

  await t.test('(d) the owner adds a folder and an item, removes an item, deletes the share; the CLI recipient follows', async () => {
    const sharedTitles = async () => {
      const r = await cli(admin, server.url, ['sync'], env);
      assert.equal(r.code, 0, r.stderr);
      return (await run(admin, ['item', 'list'])).filter((i) => i.share === 'Web ops').map((i) => i.title).sort();
    };
    // A Business folder with an item, and a loose Business item, made in the browser.
    await page.getByRole('button', { name: 'All items' }).click();
    page.once('dialog', (d) => d.accept('Racks'));
    await page.getByRole('button', { name: 'New business folder' }).click();
    await page.locator('section[aria-label="business folders"] [data-folder="Racks"]').waitFor({ timeout: 30000 });
    for (const title of ['Core switch', 'Printer']) {
      if (title === 'Printer') await page.getByRole('button', { name: 'All items' }).click();
      await page.getByRole('button', { name: 'New item' }).click();
      const form = page.getByRole('form', { name: 'New item' });
      await form.getByLabel('Profile').selectOption('business');
      if (title === 'Core switch') await form.getByLabel('Folder').selectOption({ label: 'Racks' });
      await form.getByLabel('Title').fill(title);
      await form.locator('input[name="password"]').fill(`${title}-pw`);
      await form.getByRole('button', { name: 'Save' }).click();
      await waitFor(async () => (await row(title).getAttribute('data-status')) === 'synced', 30000, `${title} synced`);
    }

    // Add: the folder (with its item) and the loose item.
    await shared.locator('[data-share="Web ops"]').click();
    await page.getByRole('button', { name: 'Add items…' }).click();
    const add = page.getByTestId('add-items-dialog');
    await add.getByLabel('Folder to add').selectOption({ label: 'Racks' });
    await add.getByRole('group', { name: 'Business items to add' }).getByLabel('Printer').check();
    await shot(page, 'shares-05-add-items');
    await add.getByRole('button', { name: 'Add to shared folder' }).click();
    await add.waitFor({ state: 'detached', timeout: 60000 });
    await row('Printer').waitFor({ timeout: 30000 });
    const racks = shared.locator('[data-share-folder="Web ops/Racks"]');
    await racks.waitFor({ timeout: 30000 });
    assert.equal(await page.locator('section[aria-label="business folders"] [data-folder="Racks"]').count(), 0, 'the folder left Business');
    await racks.click();
    await row('Core switch').waitFor({ timeout: 30000 });
    await shot(page, 'shares-06-subfolder-tree');
    await waitFor(async () => (await page.getByTestId('sync-state').textContent()).includes('All changes synced'), 30000, 'the move synced');
    assert.deepEqual(await sharedTitles(), ['Backup NAS', 'Core switch', 'Printer', 'Wiki admin']);
    const sw = (await run(admin, ['item', 'list'])).find((i) => i.title === 'Core switch');
    const pw = await cli(admin, server.url, ['item', 'get', sw.id, '--field', 'password'], env);
    assert.equal(pw.stdout.trim(), 'Core switch-pw', pw.stderr);

    // Remove an item: it returns to the owner's Business profile and leaves the share for everyone.
    await shared.locator('[data-share="Web ops"]').click();
    await page.getByRole('button', { name: 'Remove items…' }).click();
    const remove = page.getByTestId('remove-items-dialog');
    await remove.getByRole('group', { name: 'Items to remove' }).getByLabel('Backup NAS').check();
    await remove.getByRole('button', { name: 'Move to my Business profile' }).click();
    await remove.waitFor({ state: 'detached', timeout: 60000 });
    await waitFor(async () => (await row('Backup NAS').count()) === 0, 30000, 'Backup NAS left the share view');
    await waitFor(async () => (await page.getByTestId('sync-state').textContent()).includes('All changes synced'), 30000, 'the removal synced');
    assert.deepEqual(await sharedTitles(), ['Core switch', 'Printer', 'Wiki admin']);

    // Delete the share: the items come back under a Business folder named after it.
    await page.getByRole('button', { name: 'Delete share…' }).click();
    const del = page.getByTestId('delete-share-dialog');
    assert.match(await del.textContent(), /3 items and 1 subfolder/);
    await shot(page, 'shares-07-delete');
    await del.getByRole('button', { name: 'Delete shared folder' }).click();
    await del.waitFor({ state: 'detached', timeout: 60000 });
    await waitFor(async () => (await shared.locator('[data-share="Web ops"]').count()) === 0, 30000, 'the share left the sidebar');
    const business = page.locator('section[aria-label="business folders"]');
    await business.locator('[data-folder="Web ops"]').click();
    await row('Printer').waitFor({ timeout: 30000 });
    await row('Wiki admin').waitFor();
    await business.locator('[data-folder="Web ops/Racks"]').click();
    await row('Core switch').waitFor({ timeout: 30000 });
    await page.getByRole('button', { name: 'All items' }).click();
    await row('Backup NAS').waitFor();
    await shot(page, 'shares-08-deleted-back-in-business');
    assert.deepEqual(await sharedTitles(), [], 'the recipient lost the share');
    assert.ok(!(await run(admin, ['share', 'list'])).some((s) => s.id === sid), 'the share is gone for the CLI');
  });

  assert.deepEqual(problems.filter((p) => !/Failed to load resource/.test(p)), [], 'no console errors or CSP violations');
  await context.close();
});
