// Helpers for the end-to-end tests: the real server binary on a temporary data directory, the
// real CLI, and Debian's Chromium driven by playwright-core.
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB = fileURLToPath(new URL('..', import.meta.url));
export const ROOT = dirname(WEB.replace(/\/$/, ''));
export const OUT = join(WEB, 'test-output');
mkdirSync(OUT, { recursive: true });

/** The castellan binary: $CASTELLAN_BIN, else target/debug or target/release. */
export function binary() {
  for (const p of [process.env.CASTELLAN_BIN, join(ROOT, 'target/debug/castellan'), join(ROOT, 'target/release/castellan')]) {
    if (p && existsSync(p)) return p;
  }
  throw new Error('castellan binary not found: run `cargo build -p castellan-cli` (or set CASTELLAN_BIN)');
}

export function tmp(prefix) {
  return mkdtempSync(join(tmpdir(), `castellan-e2e-${prefix}-`));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

/** A server process on a fixed data dir and port; can be stopped and started again. */
export class Server {
  constructor(dataDir, port) {
    this.dataDir = dataDir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.proc = null;
    this.log = '';
  }
  async start() {
    this.proc = spawn(binary(), ['server', '--data-dir', this.dataDir, '--bind', `127.0.0.1:${this.port}`], {
      env: { ...process.env, CASTELLAN_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout.on('data', (d) => (this.log += d));
    this.proc.stderr.on('data', (d) => (this.log += d));
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      try {
        const r = await fetch(`${this.url}/api/v1/health`);
        if (r.ok) return;
      } catch {
        // not up yet
      }
      if (this.proc.exitCode !== null) throw new Error(`server exited: ${this.log}`);
      await sleep(100);
    }
    throw new Error(`server did not start: ${this.log}`);
  }
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const p = this.proc;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([done, sleep(10000)]);
    if (p.exitCode === null) {
      p.kill('SIGKILL');
      await done;
    }
  }
}

/** Runs the CLI with a device home; resolves { code, stdout, stderr }. */
export function cli(home, server, args, env = {}) {
  return new Promise((resolve) => {
    execFile(
      binary(),
      args,
      { env: { ...process.env, CASTELLAN_HOME: home, CASTELLAN_SERVER: server, ...env }, timeout: 120000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

export async function cliJson(home, server, args, env = {}) {
  const r = await cli(home, server, [...args, '--json'], env);
  if (r.code !== 0) throw new Error(`castellan ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export async function launchBrowser() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [...(isRoot ? ['--no-sandbox'] : []), '--disable-dev-shm-usage'],
  });
}

/** Records console errors and CSP violations of a page (secrets are never logged by the app). */
export function watchPage(page) {
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  return problems;
}

export async function shot(page, name) {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: false });
}

export async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
}
