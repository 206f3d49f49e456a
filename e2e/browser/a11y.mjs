// The accessibility checks of run.mjs: an axe-core scan of the page as it is (WCAG 2.0, 2.1 and
// 2.2 A/AA rules), and what has keyboard focus.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');

/** The rule sets the scan runs (axe's tags for WCAG 2.0 A and AA, 2.1 AA and 2.2 AA). */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa'];
/** Impacts that fail the run; "minor" and "moderate" findings are printed only. */
const FAILING_IMPACTS = new Set(['serious', 'critical']);

/**
 * Scans the page with axe-core and returns its violations, each with the selectors of (at most
 * five of) the elements at fault. axe is evaluated through the debugging protocol rather than a
 * <script> tag, so the page's CSP (script-src 'self') neither blocks it nor reports it.
 */
export async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (tags) => {
    const results = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.length,
      targets: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}${n.failureSummary ? ` (${n.failureSummary.replace(/\s+/g, ' ').slice(0, 160)})` : ''}`),
    }));
  }, WCAG_TAGS);
}

/** Splits violations into those that fail the run (serious, critical) and the rest. */
export function failingViolations(violations) {
  return {
    failing: violations.filter((v) => FAILING_IMPACTS.has(v.impact)),
    other: violations.filter((v) => !FAILING_IMPACTS.has(v.impact)),
  };
}

/** One line per violation: rule, impact, element count and the first elements. */
export function describeViolations(violations) {
  return violations.map((v) => `${v.id} [${v.impact}] ${v.help} — ${v.nodes} element(s): ${v.targets.join('; ')}`).join('\n');
}

/** The focused element's data-testid (else its tag name), for failure messages. */
export async function focusedTestId(page) {
  return page.evaluate(() => {
    const element = document.activeElement;
    if (!element || element === document.body) return 'body';
    return element.getAttribute('data-testid') ?? element.tagName.toLowerCase();
  });
}

/** Waits until the element with this data-testid has keyboard focus. */
export async function waitForFocus(page, testId, timeout) {
  await page
    .waitForFunction((id) => document.activeElement?.getAttribute('data-testid') === id, testId, { timeout })
    .catch(async () => {
      throw new Error(`"${testId}" did not get focus; focused: ${await focusedTestId(page)}`);
    });
}
