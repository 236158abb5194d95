/**
 * Real Chromium for browser tests and benchmarks: Debian's `chromium` package, driven by
 * playwright-core. Nothing is downloaded but the system package, installed (as root, with apt-get)
 * the same way the stack installs its PostgreSQL extensions.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { ensureSystemPackages } from '../stack/lib/system-packages.ts';

/** Where Debian's package puts the browser; VIRGIL_CHROMIUM names another build. */
export const chromiumPath = process.env.VIRGIL_CHROMIUM || '/usr/bin/chromium';

/** Installs Chromium, and fonts for legible screenshots, when they are missing. */
export async function ensureChromium(log: (line: string) => void = console.log): Promise<void> {
  await ensureSystemPackages(
    [
      { what: 'Chromium', aptPackage: 'chromium', present: () => existsSync(chromiumPath) },
      {
        what: 'Liberation fonts (text in screenshots)',
        aptPackage: 'fonts-liberation',
        present: () => existsSync('/usr/share/fonts/truetype/liberation'),
      },
      {
        what: 'Noto Color Emoji (the sync indicator in screenshots)',
        aptPackage: 'fonts-noto-color-emoji',
        present: () => existsSync('/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf'),
      },
    ],
    log,
  );
}

/** A headless Chromium; close it when done. */
export async function launchChromium(): Promise<Browser> {
  await ensureChromium();
  // --no-sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
}
