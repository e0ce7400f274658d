// The browser OPAQUE client against @serenity-kit/opaque (opaque-ke with the same suite, used as
// the reference server and, for UTF-8 passwords, the reference client).
import * as serenity from '@serenity-kit/opaque';
import { beforeAll, describe, expect, it } from 'vitest';
import { b64u, fromB64u, hex, utf8 } from '../src/crypto/bytes';
import { KSF_FLOOR } from '../src/crypto/kdf';
import { clientLoginFinish, clientLoginStart, clientRegistrationFinish, clientRegistrationStart } from '../src/crypto/opaque';
import { passwordInput } from '../src/crypto/secretKey';

const keyStretching = 'memory-constrained' as const; // Argon2id m=65536 KiB, t=3, p=4 == KSF_FLOOR

let setup: string;
beforeAll(async () => {
  await serenity.ready;
  setup = serenity.server.createSetup();
});

async function registerOurs(pwIn: Uint8Array, userId: string) {
  const { state, request } = clientRegistrationStart(pwIn);
  const { registrationResponse } = serenity.server.createRegistrationResponse({ serverSetup: setup, userIdentifier: userId, registrationRequest: b64u(request) });
  return clientRegistrationFinish(state, pwIn, fromB64u(registrationResponse), KSF_FLOOR);
}

async function loginOurs(pwIn: Uint8Array, userId: string, record: string) {
  const { state, request } = clientLoginStart(pwIn);
  const { serverLoginState, loginResponse } = serenity.server.startLogin({ serverSetup: setup, userIdentifier: userId, registrationRecord: record, startLoginRequest: b64u(request) });
  const out = await clientLoginFinish(state, pwIn, fromB64u(loginResponse), KSF_FLOOR);
  const { sessionKey } = serenity.server.finishLogin({ finishLoginRequest: b64u(out.finalization), serverLoginState });
  return { ...out, serverSessionKey: sessionKey };
}

describe('OPAQUE client', () => {
  it('registers and logs in with a Castellan password input (bytes, not UTF-8)', async () => {
    const sk = new Uint8Array(16).map((_, i) => 0xf0 + i);
    const pwIn = passwordInput('correct horse battery staple', sk);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(pwIn)).toThrow();
    const reg = await registerOurs(pwIn, 'user-1');
    expect(hex(reg.serverPublicKey)).toBe(hex(fromB64u(serenity.server.getPublicKey(setup))));
    const login = await loginOurs(pwIn, 'user-1', b64u(reg.upload));
    expect(hex(login.exportKey)).toBe(hex(reg.exportKey));
    expect(b64u(login.sessionKey)).toBe(login.serverSessionKey);
    expect(hex(login.serverPublicKey)).toBe(hex(reg.serverPublicKey));
  });

  it('fails with a wrong Secret Key or password', async () => {
    const sk = new Uint8Array(16).fill(7);
    const reg = await registerOurs(passwordInput('pw-one-1234', sk), 'user-2');
    const sk2 = sk.slice();
    sk2[15] ^= 1;
    await expect(loginOurs(passwordInput('pw-one-1234', sk2), 'user-2', b64u(reg.upload))).rejects.toThrow(/wrong password or Secret Key/);
    await expect(loginOurs(passwordInput('pw-one-1235', sk), 'user-2', b64u(reg.upload))).rejects.toThrow(/wrong password or Secret Key/);
  });

  it('interoperates with the reference client both ways (UTF-8 password)', async () => {
    const password = 'ascii and ünïcödé password';
    // Reference client registers; ours logs in.
    const r = serenity.client.startRegistration({ password });
    const { registrationResponse } = serenity.server.createRegistrationResponse({ serverSetup: setup, userIdentifier: 'user-3', registrationRequest: r.registrationRequest });
    const done = serenity.client.finishRegistration({ password, registrationResponse, clientRegistrationState: r.clientRegistrationState, keyStretching });
    const ours = await loginOurs(utf8(password), 'user-3', done.registrationRecord);
    expect(b64u(ours.exportKey)).toBe(done.exportKey);

    // Ours registers; the reference client logs in.
    const reg = await registerOurs(utf8(password), 'user-4');
    const l = serenity.client.startLogin({ password });
    const s = serenity.server.startLogin({ serverSetup: setup, userIdentifier: 'user-4', registrationRecord: b64u(reg.upload), startLoginRequest: l.startLoginRequest });
    const fin = serenity.client.finishLogin({ password, loginResponse: s.loginResponse, clientLoginState: l.clientLoginState, keyStretching });
    expect(fin).toBeDefined();
    expect(fin!.exportKey).toBe(b64u(reg.exportKey));
  });

  it('refuses KSF parameters below the floor before stretching', async () => {
    const pwIn = utf8('whatever-password');
    const { state, request } = clientRegistrationStart(pwIn);
    const { registrationResponse } = serenity.server.createRegistrationResponse({ serverSetup: setup, userIdentifier: 'u5', registrationRequest: b64u(request) });
    await expect(clientRegistrationFinish(state, pwIn, fromB64u(registrationResponse), { m_kib: 65536, t: 2, p: 4 })).rejects.toThrow(/below the minimum/);
  });

  it('refuses a tampered server response', async () => {
    const pwIn = utf8('tamper-test-password');
    const reg = await registerOurs(pwIn, 'user-6');
    const { state, request } = clientLoginStart(pwIn);
    const { loginResponse } = serenity.server.startLogin({ serverSetup: setup, userIdentifier: 'user-6', registrationRecord: b64u(reg.upload), startLoginRequest: b64u(request) });
    const ke2 = fromB64u(loginResponse);
    ke2[ke2.length - 1] ^= 1; // server MAC
    await expect(clientLoginFinish(state, pwIn, ke2, KSF_FLOOR)).rejects.toThrow(/authenticated/);
  });
});
