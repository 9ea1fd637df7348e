/**
 * A headless Chromium for browser tests: Debian's package (playwright cannot download its own
 * here). `npm test` provisions it (test/run.ts → ensureChromium); tests only launch it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go: kept after the run as test artifacts (ignored by git). */
export const ARTIFACTS_DIR = path.resolve(__dirname, '..', 'artifacts');

/**
 * Installs Debian's chromium when it is missing and this process may (root with apt-get), so
 * `npm test` sets itself up on a fresh machine. Otherwise it says what to install.
 */
export function ensureChromium(log: (line: string) => void): void {
  if (fs.existsSync(CHROMIUM_PATH)) return;
  const root = process.getuid?.() === 0;
  if (!root || !fs.existsSync('/usr/bin/apt-get')) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  log('installing chromium (apt-get install chromium) for the browser tests');
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** The flags this machine needs: no sandbox as root, and no background calls to the closed network. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves a full-page screenshot as `test/artifacts/<name>.png` and answers its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
