import { describe, expect, it } from 'vitest';
import { markdownToTelegramHtml, measureTelegram, TELEGRAM_MAX_TEXT } from '../../adapters/telegram/format.js';
import { telegramVisible } from '../helpers/telegram.js';
import { renderToolLine, renderTurn, renderTurnMarkdown, type ToolLine, type TurnSegment, type TurnView } from '../../src/core/render.js';

const text = (t: string): TurnSegment => ({ kind: 'text', text: t });
const tool = (t: Partial<ToolLine> & { tool: string }): TurnSegment => ({
  kind: 'tool',
  tool: { toolUseId: 'tu_' + t.tool, status: 'running', ...t },
});
const notice = (t: string): TurnSegment => ({ kind: 'notice', text: t });
const view = (segments: TurnSegment[], extra: Partial<TurnView> = {}): TurnView => ({ segments, status: 'running', ...extra });

/** What Telegram shows for a markdown chunk (tags stripped, entities decoded). */
const shown = telegramVisible;

describe('tool lines', () => {
  it('shows one compact line with a status mark', () => {
    expect(renderToolLine({ toolUseId: '1', tool: 'Bash', summary: 'ls -la', status: 'running' })).toBe('🔧 Bash `ls -la` ⏳');
    expect(renderToolLine({ toolUseId: '1', tool: 'Bash', summary: 'ls -la', status: 'ok' })).toBe('🔧 Bash `ls -la` ✓');
    expect(renderToolLine({ toolUseId: '1', tool: 'Read', status: 'failed' })).toBe('🔧 Read ✗');
  });

  it('truncates a long summary in the line only, to one line', () => {
    const line = renderToolLine({ toolUseId: '1', tool: 'Bash', summary: 'echo ' + 'x'.repeat(200) + '\nsecond line', status: 'ok' });
    expect(line).toContain('…');
    expect(line).not.toContain('\n');
    expect(Array.from(line.match(/`([^`]*)`/)![1]).length).toBe(80);
  });

  it('keeps backticks in a summary inside the code span', () => {
    for (const summary of ['echo `date`', '`start', 'end`', 'a ``` b', '``']) {
      const line = renderToolLine({ toolUseId: '1', tool: 'Bash', summary, status: 'ok' });
      expect(shown(line)).toBe(`🔧 Bash ${summary} ✓`);
      expect(markdownToTelegramHtml(line)).toMatch(/<code>.*<\/code>/);
    }
  });

  it('shows tool names literally', () => {
    expect(shown(renderToolLine({ toolUseId: '1', tool: 'mcp__github__create_issue', status: 'ok' }))).toBe('🔧 mcp__github__create_issue ✓');
  });
});

describe('renderTurnMarkdown', () => {
  it('renders an empty running turn as an empty string', () => {
    expect(renderTurnMarkdown(view([]))).toBe('');
    expect(renderTurn(view([]), { maxLength: 4096, measure: (s) => s.length })).toEqual([]);
  });

  it('groups consecutive tool lines and starts a new paragraph when text resumes', () => {
    const md = renderTurnMarkdown(
      view([
        text('Let me look.'),
        tool({ tool: 'Bash', summary: 'ls', status: 'ok' }),
        tool({ tool: 'Read', summary: 'a.ts', status: 'running' }),
        text('Found it.'),
      ]),
    );
    expect(md).toBe('Let me look.\n\n🔧 Bash `ls` ✓\n🔧 Read `a.ts` ⏳\n\nFound it.');
    expect(shown(md)).toBe('Let me look.\n\n🔧 Bash ls ✓\n🔧 Read a.ts ⏳\n\nFound it.');
  });

  it('drops the insignificant leading space of text that resumes after a tool', () => {
    const md = renderTurnMarkdown(view([text('Running it.'), tool({ tool: 'Bash', status: 'ok' }), text(' I ran it.')]));
    expect(md.endsWith('\n\nI ran it.')).toBe(true);
  });

  it('still separates text around hidden tools', () => {
    const md = renderTurnMarkdown(view([text('First.'), tool({ tool: 'Bash' }), text('Second.')]), { showTools: false });
    expect(md).toBe('First.\n\nSecond.');
  });

  it('concatenates consecutive text segments as they came', () => {
    expect(renderTurnMarkdown(view([text('Hel'), text('lo **wor'), text('ld**')]))).toBe('Hello **world**');
  });

  it('puts notices in place as their own paragraph', () => {
    const md = renderTurnMarkdown(view([text('Before.'), notice('⚠️ Part of this reply could not be recovered after a connection drop.'), text('After.')]));
    expect(md).toBe('Before.\n\n⚠️ Part of this reply could not be recovered after a connection drop.\n\nAfter.');
  });

  it('ends interrupted and failed turns plainly, then the footer', () => {
    expect(renderTurnMarkdown(view([text('Working')], { status: 'interrupted' }))).toBe('Working\n\n⏹ Stopped.');
    const md = renderTurnMarkdown(view([text('Working')], { status: 'error', error: 'boom *not bold* <tag> `x`\n# not a heading', footer: '1.2k tokens · $0.01' }));
    expect(md.endsWith('\n\n1.2k tokens · $0.01')).toBe(true);
    expect(shown(md)).toBe('Working\n\n⚠️ Error: boom *not bold* <tag> `x`\n# not a heading\n\n1.2k tokens · $0.01');
    expect(renderTurnMarkdown(view([], { status: 'done', footer: 'cost' }))).toBe('cost');
  });

  it('closes a code block left open before a tool line', () => {
    const md = renderTurnMarkdown(view([text('Plan:\n````ts\nconst a = 1;'), tool({ tool: 'Bash', summary: 'npm test' })]));
    expect(md).toBe('Plan:\n````ts\nconst a = 1;\n````\n\n🔧 Bash `npm test` ⏳');
    expect(markdownToTelegramHtml(md)).toContain('</pre>\n\n🔧 Bash <code>npm test</code> ⏳');
  });

  it('leaves a still-streaming code block open at the end', () => {
    expect(renderTurnMarkdown(view([text('```py\nprint(1)')]))).toBe('```py\nprint(1)');
  });
});

describe('renderTurn', () => {
  it('splits a long turn into messages within the formatted limit, never truncating', () => {
    const long = Array.from({ length: 400 }, (_, i) => `Paragraph ${i} has **bold** and \`code\` & <angle> text.`).join('\n\n');
    const segments = [text(long), tool({ tool: 'Bash', summary: 'make', status: 'ok' }), text('```js\n' + 'let x = 1;\n'.repeat(800) + '```'), text('\nDone.')];
    const messages = renderTurn(view(segments, { status: 'done' }), { maxLength: TELEGRAM_MAX_TEXT, measure: measureTelegram });
    expect(messages.length).toBeGreaterThan(5);
    for (const m of messages) expect(measureTelegram(m)).toBeLessThanOrEqual(TELEGRAM_MAX_TEXT);
    const all = messages.join('\n').replace(/^```js$|^```$/gm, '');
    for (let i = 0; i < 400; i++) expect(all).toContain(`Paragraph ${i} has`);
    expect(all.match(/let x = 1;/g)!.length).toBe(800);
    expect(messages[messages.length - 1].endsWith('Done.')).toBe(true);
  });
});
