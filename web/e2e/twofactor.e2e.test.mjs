// End to end: two-step verification in the browser against the real server and CLI.
// Enrolment in the page (QR code, secret, confirmation code, recovery codes), then a web login
// that answers `two_factor_required` with a wrong code, then a recovery code; the CLI logs in
// with another recovery code.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { cli, freePort, launchBrowser, Server, shot, tmp, watchPage } from './harness.mjs';

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

function base32(text) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of text.replace(/[\s=]/g, '').toUpperCase()) bits += abc.indexOf(ch).toString(2).padStart(5, '0');
  const out = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(out);
}

/** RFC 6238 with SHA-1, 6 digits, 30 s (the server's parameters). */
function totp(secret, t = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(t / 1000 / 30)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const o = mac[mac.length - 1] & 15;
  const n = (mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

test('two-step verification: enrol in the page, sign in with a code, CLI interop', async () => {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  const problems = watchPage(page);
  const email = 'tf@example.com';

  await page.goto(server.url + '/');
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Master password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm master password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByTestId('secret-key').waitFor({ timeout: 60000 });
  const secretKey = (await page.getByTestId('secret-key').textContent()).trim();
  await page.getByLabel('I have saved my Emergency Kit').check();
  await page.getByRole('button', { name: 'Open my vault' }).click();
  await page.getByTestId('empty-list').waitFor();

  // Enrolment in the page.
  await page.getByRole('button', { name: 'Two-step verification' }).click();
  await page.getByRole('button', { name: 'Set up two-step verification' }).click();
  await page.getByTestId('tf-qr').waitFor();
  const secret = (await page.getByTestId('tf-secret').textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  assert.ok((await page.getByTestId('tf-qr').evaluate((img) => img.naturalWidth)) > 0, 'the QR code renders');
  await page.waitForTimeout(400); // the dialog's fade-in
  await shot(page, '30-two-factor-enrol');
  await page.getByLabel('Code from the app').fill(totp(secret));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.getByTestId('tf-recovery').waitFor();
  const codes = (await page.getByRole('list', { name: 'Recovery codes' }).locator('li').allTextContents()).map((c) => c.trim());
  assert.ok(codes.length >= 5, `recovery codes shown: ${codes.length}`);
  await page.waitForTimeout(400);
  await shot(page, '31-two-factor-recovery-codes');
  await page.getByRole('button', { name: 'I saved them: continue' }).click();

  // Sign out and in again: the login asks for the code.
  await page.getByRole('button', { name: 'Sign out' }).click();
  // The sign-in form, or (if the page shows the remembered account first) its way out of it.
  const another = page.getByRole('button', { name: 'Sign in with another account' });
  await page.getByLabel('Email').or(another).first().waitFor();
  if (await another.isVisible()) await another.click();
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Master password').fill(PASSWORD);
  await page.getByLabel('Secret Key').fill(secretKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Two-step verification' }).waitFor({ timeout: 60000 });
  await shot(page, '32-two-factor-login');
  await page.getByLabel('Code').fill('000000' === totp(secret) ? '111111' : '000000');
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByText('That code is wrong').waitFor();
  await page.getByLabel('Code').fill(codes[0]);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('searchbox', { name: 'Search' }).waitFor({ timeout: 30000 });

  // The same recovery code does not work twice; another one works from the CLI.
  const home = tmp('cli-home');
  const env = { CASTELLAN_PASSWORD: PASSWORD, CASTELLAN_SECRET_KEY: secretKey };
  const used = await cli(home, server.url, ['login', '--email', email], { ...env, CASTELLAN_TOTP_CODE: codes[0] });
  assert.equal(used.code, 4, `a used recovery code is refused: ${used.stderr}`);
  const ok = await cli(home, server.url, ['login', '--email', email], { ...env, CASTELLAN_TOTP_CODE: codes[1] });
  assert.equal(ok.code, 0, ok.stderr);
  // (`2fa status` reads the membership, so it answers null for an account outside a company.)
  const again = await cli(home, server.url, ['2fa', 'enable', '--json'], env);
  assert.notEqual(again.code, 0, 'enrolling again is refused while two-step verification is on');
  assert.deepEqual(problems.filter((p) => !/Failed to load resource/.test(p)), [], 'no console errors or CSP violations');
  await context.close();
});
