// Markdown → mrkdwn, checked by what the fake (rendering like Slack's clients) shows and by its format checks.
import { describe, expect, it } from 'vitest';
import { actionsBlock, MAX_BUTTONS, toSlackPayload } from '../../../adapters/slack/blocks.js';
import { escapeMrkdwn, markdownToMrkdwn, measureSlack, SLACK_MAX_TEXT } from '../../../adapters/slack/format.js';
import { renderMrkdwn } from '../../peers/fake-slack/render.js';
import { validatePayload } from '../../peers/fake-slack/render.js';

const ctx = { userName: () => undefined, channelName: () => undefined };
function shown(md: string): { text: string; problems: string[] } {
  const problems: string[] = [];
  return { text: renderMrkdwn(markdownToMrkdwn(md), ctx, problems), problems };
}

describe('markdownToMrkdwn', () => {
  it('maps emphasis, code, links, headings, lists and quotes to Slack markup', () => {
    expect(markdownToMrkdwn('**bold** _it_ ~~gone~~ `x`')).toBe('*bold* _it_ ~gone~ `x`');
    expect(markdownToMrkdwn('# Title\n\ntext')).toBe('*Title*\n\ntext');
    expect(markdownToMrkdwn('[docs](https://a.b/?q=1&r=2)')).toBe('<https://a.b/?q=1&amp;r=2|docs>');
    expect(markdownToMrkdwn('- a\n- b\n  1. c')).toBe('• a\n• b\n   1. c');
    expect(markdownToMrkdwn('before\n\n> q1\n> q2\n\nafter')).toBe('before\n\n> q1\n> q2\n\nafter');
  });

  it('escapes &, < and > everywhere so an agent cannot ping @channel or forge a link', () => {
    const md = 'a & b <!channel> <@U123> <#C1|x> 1 > 0 &amp;';
    const out = markdownToMrkdwn(md);
    expect(out).not.toMatch(/<[!@#]/);
    const r = shown(md);
    expect(r.problems).toEqual([]);
    expect(r.text).toBe(md);
  });

  it('keeps code blocks intact: content verbatim, a ``` inside cannot close the block', () => {
    const md = '```ts\nconst a = "```";\nif (a < b && c > d) {}\n```';
    const out = markdownToMrkdwn(md);
    expect(out.startsWith('```\n') && out.endsWith('\n```')).toBe(true);
    expect(out.match(/```/g)).toHaveLength(2);
    const r = shown(md);
    expect(r.problems).toEqual([]);
    expect(r.text.replace(/\u200b/g, '')).toBe('const a = "```";\nif (a < b && c > d) {}');
  });

  it('survives hostile markdown: unbalanced markers, raw HTML, nested fences, a link with | and >', () => {
    const md = 'unbalanced *star and **bold\n\n<script>alert(1)</script>\n\n````\n```\ninner\n```\n````\n\n[a|b>c](https://x.y/a|b)';
    const r = shown(md);
    expect(r.problems).toEqual([]);
    expect(r.text).toContain('<script>alert(1)</script>');
    expect(r.text).toContain('inner');
    expect(markdownToMrkdwn(md)).toContain('<https://x.y/a%7Cb|a|b&gt;c>');
  });

  it('renders tables as aligned code blocks and measures the formatted length', () => {
    const md = '| a | bb |\n|---|---:|\n| 1 | 2 |';
    expect(markdownToMrkdwn(md)).toBe('```\na | bb\n--+---\n1 |  2\n```');
    expect(measureSlack('a & b')).toBe('a &amp; b'.length);
    expect(escapeMrkdwn('<&>')).toBe('&lt;&amp;&gt;');
  });
});

describe('blocks', () => {
  it('puts the text in one mrkdwn section and the buttons, carrying the core tokens, in an actions block', () => {
    const p = toSlackPayload({ text: '**Allow?**', buttons: [[{ label: '✅ Allow', token: 'tok.a' }, { label: '🚫 Deny', token: 'tok.d' }]] });
    expect(p.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn', text: '*Allow?*', verbatim: true } });
    expect(p.blocks[1]).toMatchObject({ type: 'actions', elements: [{ type: 'button', value: 'tok.a' }, { type: 'button', value: 'tok.d' }] });
    expect(validatePayload(p.text, p.blocks)).toBeUndefined();
  });

  it(`turns more than ${MAX_BUTTONS} choices into one static_select, within Slack's element limits`, () => {
    const rows = Array.from({ length: 8 }, (_, i) => [{ label: `option ${i} ${'x'.repeat(90)}`, token: `t.${i}` }]);
    const block = actionsBlock(rows)!;
    expect(block.elements).toHaveLength(1);
    const select = block.elements[0] as { type: string; options: Array<{ value: string; text: { text: string } }> };
    expect(select.type).toBe('static_select');
    expect(select.options.map((o) => o.value)).toEqual(rows.map((r) => r[0].token));
    for (const o of select.options) expect(Array.from(o.text.text).length).toBeLessThanOrEqual(75);
    expect(validatePayload('x', [block])).toBeUndefined();
  });

  it('refuses text over the section limit rather than letting Slack cut it', () => {
    expect(() => toSlackPayload({ text: 'a'.repeat(SLACK_MAX_TEXT + 1) })).toThrow(/limit is 3000/);
  });
});
