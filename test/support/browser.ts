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

/**
 * WCAG 2.x contrast of every visible text element on the page against its nearest opaque
 * background: returns those under 4.5:1 (3:1 for large or bold-large text).
 */
export async function contrastProblems(page: Page): Promise<string[]> {
  // Sent as source text: transpilers' helper calls (esbuild's __name) must not reach the page.
  return page.evaluate(CONTRAST_SCRIPT) as Promise<string[]>;
}

const CONTRAST_SCRIPT = `(() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[\\s,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const lin = (v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
  const lum = (c) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg[3] >= 0.99) return bg;
    }
    return [255, 255, 255, 1];
  };
  const problems = [];
  for (const el of Array.from(document.body.querySelectorAll('*'))) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.offsetParent) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || Number(style.opacity) < 0.6) continue;
    const a = lum(parse(style.color));
    const b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = Number.parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5))
      problems.push(el.tagName.toLowerCase() + '.' + el.className + ': ' + ratio.toFixed(2) + ' "' + el.textContent.trim().slice(0, 30) + '"');
  }
  return problems;
})()`;
