// What the single-purpose browser checks share (geometry.mjs, thumbnails.mjs): a TAP-style
// report (`ok - ...` / `not ok - ...`, then `browser: N passed, M failed`), a headless Chromium
// in a throw-away profile, a time budget, and the exit status (1 when a check failed).
//
//   await inChromium({ chromium, executablePath, label, budgetMs, args }, async (context, report) => { ... });
//
// `chromium` is playwright-core's launcher; `args` are added to the usual headless flags. The body
// reports with report(ok, name, why); an exception it throws is reported as a failed
// "browser run". Never returns: the process exits with the result.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update'];

export async function inChromium({ chromium, executablePath, label, budgetMs, args = [] }, body) {
  let passed = 0;
  let failed = 0;
  const report = (ok, name, why) => {
    if (ok) { passed++; console.log(`ok - ${name}`); } else { failed++; console.log(`not ok - ${name}: ${why}`); }
  };
  const userDataDir = mkdtempSync(path.join(tmpdir(), `libhls-${label}-`));
  let context = null;
  const finish = async () => {
    console.log(`browser: ${passed} passed, ${failed} failed`);
    if (context) await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
    process.exit(failed === 0 ? 0 : 1);
  };
  const watchdog = setTimeout(async () => {
    report(false, 'time budget', `not done within ${budgetMs / 1000} s`);
    await finish();
  }, budgetMs);
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      timeout: 30_000,
      args: [...FLAGS, ...args],
    });
    await body(context, report);
  } catch (e) {
    report(false, 'browser run', e && e.stack ? e.stack.split('\n')[0] : String(e));
  }
  clearTimeout(watchdog);
  await finish();
}
