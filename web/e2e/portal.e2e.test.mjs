// End to end: the Partner Portal and the Customer Portal in Chromium against the real server on a
// temporary data dir, with the CLI as the invited user. Screenshots of every portal page go to
// web/test-output/portal-*.png.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, cliJson, freePort, launchBrowser, Server, shot, tmp, waitFor, watchPage } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';
const STRONG = 'Correct-Horse-Battery-9-Staple';
let server;
let browser;

before(async () => {
  server = new Server(tmp('portal-data'), await freePort());
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** @param {import('playwright-core').Browser} b */
async function newPage(b) {
  const context = await b.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  return { context, page, problems: watchPage(page) };
}

async function registerInBrowser(page, email) {
  await page.goto(server.url + '/');
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Master password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm master password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await continueFromKit(page);
}

async function continueFromKit(page) {
  await page.getByTestId('secret-key').waitFor({ timeout: 60000 });
  await page.getByLabel('I have saved my Emergency Kit').check();
  await page.getByRole('button', { name: 'Open my vault' }).click();
  await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 30000 });
}

async function reopenPortal(page) {
  await page.getByRole('link', { name: 'Back to the vault' }).click();
  await page.getByTestId('portal-link').click();
}

async function heading(page, text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor({ timeout: 30000 });
}

/** The invitation link from the "invitation created" dialog (mail is not configured). */
async function inviteInPortal(page, email, role) {
  await page.getByRole('button', { name: '+ Invite user' }).click();
  const form = page.getByRole('form', { name: 'Invite user' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Role').selectOption(role);
  await form.getByRole('button', { name: 'Send invitation' }).click();
  const link = await page.getByTestId('invite-link').inputValue({ timeout: 30000 });
  assert.match(link, /\/join#v1\.[0-9a-f-]{36}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  return link;
}

async function confirmInPortal(page, email, expectedFingerprint) {
  const row = page.locator(`[data-testid="member-row"][data-email="${email}"]`);
  await row.waitFor({ timeout: 30000 });
  await row.getByRole('button', { name: 'Confirm…' }).click();
  const dialog = page.getByTestId('confirm-dialog');
  const fp = (await dialog.getByTestId('member-fingerprint').textContent({ timeout: 30000 })).trim();
  if (expectedFingerprint) assert.equal(fp, expectedFingerprint, 'the admin sees the fingerprint the member sees');
  return { dialog, row, fp };
}

test('portals: partner creates a customer, customer admin sets a policy and invites, user joins from the CLI and is confirmed', async (t) => {
  const tokenMatch = await waitFor(() => server.log.match(/Setup token: (\S+)/), 10000, 'the setup token on stdout');
  const token = tokenMatch[1];
  const partner = await newPage(browser);
  const pp = partner.page;
  const customerAdmin = await newPage(browser);
  const cp = customerAdmin.page;
  const userHome = tmp('portal-user-home');
  let customerId;
  let userLink;
  let adminFingerprint;

  await t.test('a partner admin sets up the partner in the browser with the setup token', async () => {
    await registerInBrowser(pp, 'owner@msp.test');
    await pp.getByTestId('portal-link').click();
    await heading(pp, 'Set up a partner');
    await shot(pp, 'portal-01-setup');
    const form = pp.getByRole('form', { name: 'Set up a partner' });
    await form.getByLabel('Setup token').fill('wrong-token');
    await form.getByLabel('Partner name').fill('Northwind MSP');
    await form.getByRole('button', { name: 'Create partner' }).click();
    await form.getByRole('alert').waitFor();
    await form.getByLabel('Setup token').fill(token);
    await form.getByRole('button', { name: 'Create partner' }).click();
    await heading(pp, 'Customers');
    await pp.getByTestId('empty-state').waitFor();
    await shot(pp, 'portal-02-customers-empty');
    const setup = await (await fetch(`${server.url}/api/v1/setup`)).json();
    assert.equal(setup.open, false, 'the setup token is used up');
  });

  await t.test('the partner admin creates a customer and assigns a subscription', async () => {
    await pp.getByRole('button', { name: '+ New customer' }).click();
    const form = pp.getByRole('form', { name: 'New customer' });
    await form.getByLabel('Company name').fill('Acme Corp');
    await form.getByLabel('Plan').selectOption('standard');
    await form.getByLabel('Seats').fill('5');
    await shot(pp, 'portal-03-new-customer');
    await form.getByRole('button', { name: 'Create customer' }).click();
    await heading(pp, 'Subscription and seats');
    customerId = pp.url().match(/#\/company\/([0-9a-f-]{36})\//)[1];
    assert.equal((await pp.getByTestId('plan').textContent()).trim(), 'Standard');
    const sub = pp.getByRole('form', { name: 'Change subscription' });
    await sub.getByLabel('Plan').selectOption('advanced');
    await sub.getByLabel('Seats').fill('12');
    await sub.getByRole('button', { name: 'Save subscription' }).click();
    await waitFor(async () => (await pp.getByTestId('plan').textContent()).trim() === 'Advanced', 10000, 'the new plan');
    assert.match(await pp.getByTestId('seats').textContent(), /0\s*\/\s*12/);
    await shot(pp, 'portal-04-subscription');
    await pp.getByRole('link', { name: 'Customers' }).click();
    const row = pp.locator('[data-testid="customer-row"][data-name="Acme Corp"]');
    await row.waitFor();
    assert.match(await row.textContent(), /Advanced/);
    assert.match(await row.getByTestId('customer-seats').textContent(), /0 \/ 12/);
    await row.getByTestId('compliance').waitFor();
    await shot(pp, 'portal-05-customers');
  });

  await t.test("the partner admin invites the customer's admin, who joins in the browser and is confirmed", async () => {
    await pp.locator('[data-testid="customer-row"][data-name="Acme Corp"]').getByRole('link', { name: 'Open portal' }).click();
    await heading(pp, 'Users');
    await pp.getByTestId('empty-state').waitFor();
    await shot(pp, 'portal-06-users-empty');
    const link = await inviteInPortal(pp, 'admin@acme.test', 'admin');
    await shot(pp, 'portal-07-invite-link');
    await pp.getByRole('button', { name: 'Done' }).click();

    await cp.goto(link);
    await heading(cp, 'Join Acme Corp');
    assert.equal(new URL(cp.url()).hash, '', 'the secret left the address bar');
    await shot(cp, 'portal-08-join');
    const form = cp.getByRole('form', { name: 'Create your account and join' });
    await form.getByLabel('Master password', { exact: true }).fill(PASSWORD);
    await form.getByLabel('Confirm master password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Create account and join' }).click();
    await continueFromKit(cp);
    await cp.getByTestId('portal-link').click();
    await heading(cp, 'My account');
    adminFingerprint = (await cp.getByTestId('my-fingerprint').textContent()).trim();
    assert.match(adminFingerprint, /^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
    await shot(cp, 'portal-09-my-account-waiting');

    await pp.getByRole('link', { name: 'Groups' }).click();
    await heading(pp, 'Groups');
    await pp.getByRole('link', { name: 'Users' }).click();
    await heading(pp, 'Users');
    await pp.getByTestId('pending-notice').waitFor({ timeout: 30000 });
    const { dialog, row } = await confirmInPortal(pp, 'admin@acme.test', adminFingerprint);
    await shot(pp, 'portal-10-confirm');
    await dialog.getByRole('button', { name: 'Fingerprint matches: confirm' }).click();
    await waitFor(async () => (await row.getAttribute('data-status')) === 'confirmed', 30000, 'the admin confirmed');
    assert.match(await row.textContent(), /Confirmed/);
  });

  await t.test('the customer admin sets a policy and invites a user', async () => {
    // Back to the vault and into the portal again: the membership is fetched anew (now an admin).
    await reopenPortal(cp);
    await heading(cp, 'Users');
    assert.equal((await cp.getByTestId('portal-company').textContent()).trim(), 'Acme Corp');
    await cp.getByRole('link', { name: 'Security policies' }).click();
    await heading(cp, 'Security policies');
    const form = cp.getByRole('form', { name: 'Security policies' });
    await form.getByLabel('Enforce master password rules').check();
    await form.getByLabel('Minimum length').first().fill('16');
    await form.getByLabel('Maximum vault timeout (minutes)').fill('15');
    await form.getByLabel('Restrict the portal to administrators').check();
    await shot(cp, 'portal-11-policies');
    await form.getByRole('button', { name: 'Sign and save policy' }).click();
    await cp.getByText('Policy #1, signed with the company key').waitFor({ timeout: 30000 });

    await cp.getByRole('link', { name: 'Users' }).click();
    await heading(cp, 'Users');
    userLink = await inviteInPortal(cp, 'user@acme.test', 'user');
    await cp.getByRole('button', { name: 'Done' }).click();
    await cp.locator('[data-testid="invitation-row"][data-email="user@acme.test"]').waitFor();
    await shot(cp, 'portal-12-users');
  });

  await t.test('the invited user joins from the CLI; a master password below the verified policy is refused', async () => {
    const weak = await cli(userHome, server.url, ['register', '--invite', userLink, '--json'], { CASTELLAN_PASSWORD: PASSWORD });
    assert.notEqual(weak.code, 0, 'a password below the policy is refused');
    assert.match(weak.stderr, /policy/i);
    const reg = await cliJson(userHome, server.url, ['register', '--invite', userLink], { CASTELLAN_PASSWORD: STRONG });
    assert.equal(reg.email, 'user@acme.test');
    const status = await cliJson(userHome, server.url, ['status'], { CASTELLAN_PASSWORD: STRONG });
    await cp.getByRole('link', { name: 'Groups' }).click();
    await heading(cp, 'Groups');
    await cp.getByRole('link', { name: 'Users' }).click();
    await heading(cp, 'Users');
    await cp.getByTestId('pending-notice').waitFor({ timeout: 30000 });
    const { dialog, row } = await confirmInPortal(cp, 'user@acme.test', status.fingerprint);
    await dialog.getByRole('button', { name: 'Fingerprint matches: confirm' }).click();
    await waitFor(async () => (await row.getAttribute('data-status')) === 'confirmed', 30000, 'the user confirmed');
    await shot(cp, 'portal-13-users-confirmed');
    // The confirmed member's CLI verifies the company's signed policy: a new master password
    // below it is refused before anything is sent.
    const change = await cli(userHome, server.url, ['change-password', '--json'], { CASTELLAN_PASSWORD: STRONG, CASTELLAN_NEW_PASSWORD: 'Short-but-ok-1' });
    assert.notEqual(change.code, 0);
    assert.match(change.stderr, /at least 16 characters/);
  });

  await t.test('groups, audit log with filters and export', async () => {
    await cp.getByRole('link', { name: 'Groups' }).click();
    await heading(cp, 'Groups');
    const everyone = cp.locator('[data-testid="group-card"][data-name="Everyone"]');
    await everyone.waitFor();
    assert.match(await everyone.textContent(), /user@acme\.test/);
    assert.match(await everyone.textContent(), /admin@acme\.test/);
    assert.equal(await everyone.getByRole('button', { name: 'Edit' }).count(), 0, 'Everyone is read-only');
    await cp.getByRole('button', { name: '+ New group' }).click();
    const g = cp.getByRole('form', { name: 'New group' });
    await g.getByLabel('Name').fill('Engineering');
    await g.getByLabel('user@acme.test').check();
    await g.getByRole('button', { name: 'Create group' }).click();
    const eng = cp.locator('[data-testid="group-card"][data-name="Engineering"]');
    await eng.waitFor({ timeout: 30000 });
    assert.match(await eng.textContent(), /user@acme\.test/);
    await shot(cp, 'portal-14-groups');

    // Organisation backup: the verified policy's state (off here) and the backup points.
    await cp.getByRole('link', { name: 'Backup', exact: true }).click();
    await heading(cp, 'Organisation backup');
    await cp.getByTestId('backup-state').waitFor();
    assert.match(await cp.getByTestId('backup-state').textContent(), /Off/);
    await cp.getByText(/No backups yet|Backup points/).first().waitFor();
    await shot(cp, 'portal-14b-backup');
    // Enable with an offline key made in the browser: the kit (Rust layout) is downloaded before
    // the policy is signed; the CLI member then backs up to that key.
    await cp.getByRole('button', { name: 'Enable with an offline key' }).click();
    const dlg = cp.getByTestId('backup-enable');
    await dlg.waitFor();
    const [kitDl] = await Promise.all([cp.waitForEvent('download'), dlg.getByRole('button', { name: 'Download the recovery kit' }).click()]);
    const kitFile = join(tmp('kit'), 'kit.json');
    await kitDl.saveAs(kitFile);
    const kitJson = JSON.parse(readFileSync(kitFile, 'utf8'));
    assert.equal(kitJson.kind, 'castellan-backup-recovery-kit');
    assert.equal(kitJson.key_version, 1);
    await dlg.getByText('Show the recovery words').click();
    assert.equal((await dlg.getByTestId('backup-words').textContent()).trim().split(' ').length, 33);
    await cp.waitForTimeout(300);
    await shot(cp, 'portal-14c-backup-enable');
    await dlg.getByLabel('I saved the recovery kit or the words').check();
    await dlg.getByRole('button', { name: 'Sign and publish the backup key' }).click();
    await dlg.waitFor({ state: 'detached' });
    await waitFor(async () => /On[\s\S]*Offline key[\s\S]*1/.test(await cp.getByTestId('backup-state').textContent()), 10000, 'backup on in the page');
    const now = await cli(userHome, server.url, ['backup', 'now', '--json'], { CASTELLAN_PASSWORD: STRONG });
    assert.equal(now.code, 0, `the CLI member backs up to the key made in the browser: ${now.stderr}`);
    assert.doesNotMatch(now.stdout + now.stderr, /not|skipp/i, `backup now: ${now.stdout} ${now.stderr}`);
    await cp.getByRole('link', { name: 'Audit log' }).click();
    await heading(cp, 'Audit log');
    await cp.getByRole('link', { name: 'Backup', exact: true }).click();
    await cp.getByTestId('backup-users').waitFor({ timeout: 30000 });
    assert.match(await cp.getByTestId('backup-users').textContent(), /user@acme\.test/);
    await shot(cp, 'portal-14d-backup-points');
    // Turned off again (signed policy, then every backup deleted), as `castellan backup disable`.
    await cp.getByRole('button', { name: 'Turn off and delete backups' }).click();
    await cp.getByRole('button', { name: 'Turn off and delete', exact: true }).click();
    await waitFor(async () => /Off/.test(await cp.getByTestId('backup-state').textContent()), 10000, 'backup off');
    await cp.getByText('No backups yet').waitFor();

    await cp.getByRole('link', { name: 'Audit log' }).click();
    await heading(cp, 'Audit log');
    await cp.locator('[data-testid="audit-row"]').first().waitFor({ timeout: 30000 });
    const filters = cp.getByRole('form', { name: 'Audit filters' });
    await filters.getByLabel('Event type').fill('member');
    await filters.getByRole('button', { name: 'Apply' }).click();
    await waitFor(async () => {
      const events = await cp.locator('[data-testid="audit-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')));
      return events.length > 0 && events.every((e) => e.startsWith('member'));
    }, 15000, 'only member events');
    await shot(cp, 'portal-15-audit');
    const [csv] = await Promise.all([cp.waitForEvent('download'), cp.getByRole('button', { name: 'Export CSV' }).click()]);
    const csvText = readFileSync(await csv.path(), 'utf8');
    assert.match(csvText.split('\n')[0], /event/);
    assert.match(csvText, /member\.confirmed/);
    const [json] = await Promise.all([cp.waitForEvent('download'), cp.getByRole('button', { name: 'Export JSON' }).click()]);
    const events = JSON.parse(readFileSync(await json.path(), 'utf8'));
    assert.ok(events.length > 0 && events.every((e) => e.event.startsWith('member')));
  });

  await t.test('the partner applies a policy template; the CLI verifies the new signed policy', async () => {
    await pp.goto(`${server.url}/#/partner/templates`);
    await heading(pp, 'Policy templates');
    await pp.getByTestId('empty-state').waitFor();
    await pp.getByRole('button', { name: '+ New template' }).click();
    const form = pp.getByRole('form', { name: 'Policy template' });
    await form.getByLabel('Template name').fill('Baseline');
    await form.getByLabel('Require two-step verification').check();
    await form.getByLabel('Enforce master password rules').check();
    await form.getByLabel('Minimum length').first().fill('20');
    await shot(pp, 'portal-16-template-editor');
    await form.getByRole('button', { name: 'Save template' }).click();
    const card = pp.locator('[data-testid="template-card"][data-name="Baseline"]');
    await card.waitFor();
    await card.getByRole('button', { name: 'Apply to customers…' }).click();
    const dialog = pp.getByTestId('apply-dialog');
    await dialog.getByLabel('Acme Corp').check();
    await dialog.getByRole('button', { name: 'Apply to 1 customer(s)' }).click();
    await dialog.getByText('policy #4 signed').waitFor({ timeout: 30000 }); // #2 and #3 turned backup on and off
    await shot(pp, 'portal-17-template-applied');
    await dialog.getByRole('button', { name: 'Close' }).click();

    const change = await cli(userHome, server.url, ['change-password', '--json'], { CASTELLAN_PASSWORD: STRONG, CASTELLAN_NEW_PASSWORD: 'Seventeen-chars-1x' });
    assert.notEqual(change.code, 0);
    assert.match(change.stderr, /at least 20 characters/);
    const tfa = await cliJson(userHome, server.url, ['2fa', 'status'], { CASTELLAN_PASSWORD: STRONG });
    assert.equal(tfa.required_by_company, true);

    await pp.getByRole('link', { name: 'Customers' }).click();
    const row = pp.locator('[data-testid="customer-row"][data-name="Acme Corp"]');
    await row.waitFor();
    await waitFor(async () => /✓ 2FA/.test(await row.getByTestId('compliance').textContent()), 15000, '2FA compliance shown');
    await shot(pp, 'portal-18-customers-compliance');
    await pp.getByRole('link', { name: 'Technicians' }).click();
    await heading(pp, 'Technicians');
    await pp.getByTestId('empty-state').waitFor();
    await shot(pp, 'portal-19-technicians-empty');
    await pp.getByRole('link', { name: 'Partner team' }).click();
    await heading(pp, 'Users');
    await pp.locator('[data-testid="member-row"][data-email="owner@msp.test"]').waitFor();
    await shot(pp, 'portal-20-partner-team');
  });

  await t.test('a Standard customer cannot switch on Advanced policies; the portal explains why', async () => {
    await pp.goto(`${server.url}/#/company/${customerId}/subscription`);
    await heading(pp, 'Subscription and seats');
    const sub = pp.getByRole('form', { name: 'Change subscription' });
    await sub.getByLabel('Plan').selectOption('standard');
    await sub.getByRole('button', { name: 'Save subscription' }).click();
    await waitFor(async () => (await pp.getByTestId('plan').textContent()).trim() === 'Standard', 10000, 'Standard');
    await pp.getByRole('link', { name: 'Security policies' }).click();
    await heading(pp, 'Security policies');
    const form = pp.getByRole('form', { name: 'Security policies' });
    await form.getByText('Needs the Advanced plan').waitFor();
    assert.equal(await form.getByLabel('Password auditing (apps report item events to the audit log)').isDisabled(), true);
    await shot(pp, 'portal-21-policies-standard');
  });

  await t.test('a user sees only their own account in the browser', async () => {
    const user = await newPage(browser);
    await user.page.goto(server.url + '/');
    // Sign in with the CLI user's Emergency Kit Secret Key (from the CLI's device state).
    const kit = JSON.parse(readFileSync(`${userHome}/device.json`, 'utf8'));
    await user.page.getByLabel('Email').fill('user@acme.test');
    await user.page.getByLabel('Master password').fill(STRONG);
    await user.page.getByLabel('Secret Key').fill(kit.secret_key);
    await user.page.getByRole('button', { name: 'Sign in' }).click();
    await user.page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 60000 });
    await user.page.getByTestId('portal-link').click();
    await heading(user.page, 'My account');
    await user.page.getByTestId('my-policies').waitFor();
    assert.match(await user.page.getByTestId('my-policies').textContent(), /Two-step verification required/);
    await shot(user.page, 'portal-22-user-account');
    await user.page.goto(`${server.url}/#/company/${customerId}/users`);
    await heading(user.page, 'My account');
    assert.deepEqual(user.problems.filter((p) => !/401|403|404/.test(p)), []);
    await user.context.close();
  });

  assert.deepEqual(partner.problems.filter((p) => !/40[134]/.test(p)), []);
  assert.deepEqual(customerAdmin.problems.filter((p) => !/40[134]/.test(p)), []);
  await partner.context.close();
  await customerAdmin.context.close();
});
