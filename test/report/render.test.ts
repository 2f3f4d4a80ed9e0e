import { describe, expect, it } from 'vitest';
import { buildComplianceReport } from '../../report/build.ts';
import { escapeHtml, html } from '../../report/render/html/escape.ts';
import { md } from '../../report/render/markdown-text.ts';
import { COVERAGE_CHART_ID, EXPIRY_CHART_ID, renderHtml, renderJson, renderMarkdown } from '../../report/render/index.ts';
import { emptyInputs, healthyInputs, record, withDecisions } from './inputs.ts';

const EVIL_ID = '<img src=x onerror=alert(1)>.demo.serviceaccount.identity.linkerd.cluster.local';
const EVIL_REASON = 'no authorization admits "</td><script>alert(2)</script>" & friends';

function evilReport() {
  return buildComplianceReport(
    withDecisions(healthyInputs(), [record(), record({ clientIdentity: EVIL_ID, decision: 'deny', authorization: null, reason: EVIL_REASON })]),
  );
}

describe('rendering', () => {
  it('the html template escapes every interpolated string, attributes included', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    const value = '"><script>x</script>';
    expect(html`<td title="${value}">${value}${[value, html`<b>ok</b>`]}</td>`.value).toBe(
      '<td title="&quot;&gt;&lt;script&gt;x&lt;/script&gt;">&quot;&gt;&lt;script&gt;x&lt;/script&gt;&quot;&gt;&lt;script&gt;x&lt;/script&gt;<b>ok</b></td>',
    );
  });

  it('HTML: identities and reasons from the data land as text only', () => {
    const page = renderHtml(evilReport());
    expect(page).not.toContain('<script');
    expect(page).not.toContain('<img');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page).toContain('&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
  });

  it('HTML: one self-contained file with both charts, no script, no external resource', () => {
    const page = renderHtml(buildComplianceReport(healthyInputs()));
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(page).toContain(`<svg id="${COVERAGE_CHART_ID}" role="img"`);
    expect(page).toContain(`<svg id="${EXPIRY_CHART_ID}" role="img"`);
    expect(page).toContain('<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;');
    expect(page).toMatch(/@media print \{[^]*section \{ break-before: page; \}/);
    expect(page).not.toMatch(/<script|<link|<img|\b(src|href)=|url\((?!#)|@import|https?:\/\//i);
  });

  it('HTML with no data at all still renders both charts, saying there is nothing to draw', () => {
    const page = renderHtml(buildComplianceReport(emptyInputs()));
    expect(page).toContain('No connection recorded in this window.');
    expect(page).toContain('No certificate to show.');
    expect(page).toContain('No rotation recorded.');
  });

  it('Markdown: data cannot open HTML, links, emphasis or table cells', () => {
    expect(md('a|b <b>*x*</b> [l](u) `c`')).toBe('a\\|b \\<b\\>\\*x\\*\\</b\\> \\[l\\](u) \\`c\\`');
    const doc = renderMarkdown(evilReport());
    // Every `<` from the data is backslash-escaped: Markdown renders it as text.
    expect(doc).not.toMatch(/(?<!\\)<(script|img)/);
    expect(doc).toContain('\\<img src=x onerror=alert(1)\\>');
    const controls = doc.split('## Controls')[1]!.split('## mTLS coverage')[0]!;
    for (const row of controls.trim().split('\n').slice(2)) expect(row.split(/(?<!\\)\|/).length).toBe(7);
  });

  it('JSON: one object, the model with its stable keys in order', () => {
    const report = buildComplianceReport(healthyInputs());
    const parsed = JSON.parse(renderJson(report));
    expect(parsed).toEqual(report);
    expect(Object.keys(parsed)).toEqual(['version', 'generatedAt', 'window', 'sources', 'mtls', 'inventory', 'ledger', 'trust', 'rotation', 'policy', 'denials', 'controls', 'summary']);
    expect(Object.keys(parsed.mtls)).toEqual(['decisions', 'admitted', 'denied', 'connectionShare', 'byteShare', 'plaintextFlows', 'timeline']);
    expect(Object.keys(parsed.controls[0])).toEqual(['id', 'framework', 'reference', 'title', 'status', 'evidence']);
    // The same keys with no data at all.
    const empty = JSON.parse(renderJson(buildComplianceReport(emptyInputs())));
    expect(Object.keys(empty)).toEqual(Object.keys(parsed));
    expect(Object.keys(empty.mtls)).toEqual(Object.keys(parsed.mtls));
    expect(Object.keys(empty.trust)).toEqual(Object.keys(parsed.trust));
  });
});
