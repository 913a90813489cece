/**
 * Headless Chromium (Debian's package) driven by playwright-core, for the console tests and the
 * console benchmark. `npx playwright install` cannot download browsers here; `.ci/run` installs
 * `chromium` with apt-get.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.PULSEGATE_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** Where the tests save screenshots (gitignored). */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/console/', import.meta.url));

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Everything a browser context showed the outside: request URLs, console messages, page errors. */
export class BrowserRecorder {
  readonly urls: string[] = [];
  readonly console: string[] = [];
  readonly errors: string[] = [];
  /** Access tokens the login responses handed out. */
  readonly tokens: string[] = [];

  watch(context: BrowserContext): void {
    context.on('request', (r) => this.urls.push(r.url()));
    context.on('page', (page) => this.#page(page));
    for (const page of context.pages()) this.#page(page);
    context.on('response', async (r) => {
      if (!r.url().endsWith('/api/v1/auth/login') || r.status() !== 200) return;
      try {
        const body = (await r.json()) as { access_token?: string };
        if (body.access_token) this.tokens.push(body.access_token);
      } catch {
        // the page navigated away before the body was read; the next login is recorded
      }
    });
  }

  #page(page: Page): void {
    page.on('console', (m) => this.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => this.errors.push(String(e)));
  }
}
