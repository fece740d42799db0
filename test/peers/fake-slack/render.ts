// What a person sees of a message: mrkdwn rendered to plain text the way Slack's clients do (control
// sequences `<…>`, entities, paired *bold* _italic_ ~strike~ markers at word boundaries, code spans and
// blocks shown verbatim), and Block Kit payloads checked against Slack's limits.

/** Slack's limits on what a message may carry. */
export const LIMITS = { text: 40_000, sectionText: 3000, blocks: 50, actionsElements: 25, buttonText: 75, buttonValue: 2000, selectOptions: 100, optionText: 75 };

export interface RenderContext {
  userName(id: string): string | undefined;
  channelName(id: string): string | undefined;
}

function decodeEntities(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** `<…>` control sequences to what they display; anything else between < and > is a format problem. */
function controlSequence(inner: string, ctx: RenderContext, problems: string[]): string {
  const [target, label] = splitOnce(inner, '|');
  if (target.startsWith('@')) return `@${label ?? ctx.userName(target.slice(1)) ?? target.slice(1)}`;
  if (target.startsWith('#')) return `#${label ?? ctx.channelName(target.slice(1)) ?? target.slice(1)}`;
  if (target.startsWith('!')) return label ?? `@${target.slice(1).split('^')[0]}`;
  if (/^(https?:\/\/|mailto:)/i.test(target)) return decodeEntities(label ?? target);
  problems.push(`unexpected control sequence <${inner}>`);
  return `<${inner}>`;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

const BOUNDARY_BEFORE = /[\s(\[{"'.,;:!?>\-]|^$/;
const BOUNDARY_AFTER = /[\s)\]}"'.,;:!?<\-]|^$/;

/** Removes paired formatting markers (*x*, _x_, ~x~) that Slack would render, within one line. */
function stripEmphasis(line: string): string {
  let out = line;
  for (const m of ['*', '_', '~']) {
    let changed = true;
    while (changed) {
      changed = false;
      for (let i = 0; i < out.length; i++) {
        if (out[i] !== m || !BOUNDARY_BEFORE.test(out[i - 1] ?? '') || /\s/.test(out[i + 1] ?? ' ')) continue;
        for (let j = i + 2; j < out.length; j++) {
          if (out[j] === m && !/\s/.test(out[j - 1]) && BOUNDARY_AFTER.test(out[j + 1] ?? '')) {
            out = out.slice(0, i) + out.slice(i + 1, j) + out.slice(j + 1);
            changed = true;
            break;
          }
        }
        if (changed) break;
      }
    }
  }
  return out;
}

/** Renders a span of mrkdwn outside code: control sequences, emphasis, entities, quote markers. */
function renderProse(s: string, ctx: RenderContext, problems: string[]): string {
  let out = '';
  let last = 0;
  const between = (t: string) => {
    // Slack requires &, < and > escaped in text; a raw > is only a quote marker at the start of a line.
    if (t.includes('<')) problems.push('unescaped < in text');
    if (/[^\n]>/.test(t.replace(/^>/gm, ''))) problems.push('unescaped > in text');
    out += renderPlain(t);
  };
  for (const m of s.matchAll(/<([^<>\n]*)>/g)) {
    between(s.slice(last, m.index));
    out += controlSequence(m[1], ctx, problems);
    last = m.index! + m[0].length;
  }
  between(s.slice(last));
  return out;
}

function renderPlain(s: string): string {
  return decodeEntities(
    s
      .split('\n')
      .map((line) => stripEmphasis(line.replace(/^> ?/, '')))
      .join('\n'),
  );
}

/** mrkdwn → visible text. Format problems found (raw `<`, unknown control sequences) go into `problems`. */
export function renderMrkdwn(mrkdwn: string, ctx: RenderContext, problems: string[] = []): string {
  const out: string[] = [];
  // Code blocks first: their content is verbatim (entities still decoded), no emphasis or links.
  const fence = /```([\s\S]*?)```/g;
  let last = 0;
  for (const m of mrkdwn.matchAll(fence)) {
    out.push(renderInline(mrkdwn.slice(last, m.index), ctx, problems));
    out.push(decodeEntities(m[1].replace(/^\n/, '').replace(/\n$/, '')));
    last = m.index! + m[0].length;
  }
  out.push(renderInline(mrkdwn.slice(last), ctx, problems));
  return out.join('');
}

function renderInline(s: string, ctx: RenderContext, problems: string[]): string {
  const out: string[] = [];
  let last = 0;
  for (const m of s.matchAll(/`([^`\n]+)`/g)) {
    out.push(renderProse(s.slice(last, m.index), ctx, problems));
    out.push(decodeEntities(m[1]));
    last = m.index! + m[0].length;
  }
  out.push(renderProse(s.slice(last), ctx, problems));
  return out.join('');
}

type Block = Record<string, unknown>;

/** Visible text of a message: its blocks when it has any, else its text. Buttons are not text. */
export function renderMessage(text: string, blocks: Block[] | undefined, ctx: RenderContext, problems: string[] = []): string {
  if (!blocks?.length) return renderMrkdwn(text, ctx, problems);
  const parts: string[] = [];
  for (const b of blocks) {
    if (b.type === 'section' || b.type === 'header') {
      const t = b.text as { type: string; text: string } | undefined;
      if (t) parts.push(t.type === 'mrkdwn' ? renderMrkdwn(t.text, ctx, problems) : t.text);
    } else if (b.type === 'context') {
      const els = (b.elements as Array<{ type: string; text?: string }>) ?? [];
      parts.push(els.map((e) => (e.type === 'mrkdwn' ? renderMrkdwn(e.text ?? '', ctx, problems) : (e.text ?? ''))).join(' '));
    } else if (b.type === 'markdown') {
      parts.push(String(b.text ?? ''));
    }
  }
  return parts.join('\n');
}

/** Checks text and blocks as chat.postMessage / chat.update do; returns Slack's error code or undefined. */
export function validatePayload(text: unknown, blocks: unknown): string | undefined {
  if (typeof text === 'string' && text.length > LIMITS.text) return 'msg_too_long';
  if (blocks === undefined) return typeof text === 'string' && text !== '' ? undefined : 'no_text';
  if (!Array.isArray(blocks)) return 'invalid_blocks_format';
  if (blocks.length > LIMITS.blocks) return 'invalid_blocks';
  const actionIds = new Set<string>();
  for (const b of blocks as Block[]) {
    if (b.type === 'section') {
      const t = b.text as { type?: string; text?: unknown } | undefined;
      if (!t || typeof t.text !== 'string' || t.text.length === 0 || t.text.length > LIMITS.sectionText) return 'invalid_blocks';
      if (t.type !== 'mrkdwn' && t.type !== 'plain_text') return 'invalid_blocks';
    } else if (b.type === 'actions') {
      const els = b.elements as Block[] | undefined;
      if (!Array.isArray(els) || els.length === 0 || els.length > LIMITS.actionsElements) return 'invalid_blocks';
      for (const e of els) {
        const id = String(e.action_id ?? '');
        if (!id || actionIds.has(id)) return 'invalid_blocks';
        actionIds.add(id);
        if (e.type === 'button') {
          const label = (e.text as { text?: string } | undefined)?.text ?? '';
          if (!label || label.length > LIMITS.buttonText) return 'invalid_blocks';
          if (typeof e.value === 'string' && e.value.length > LIMITS.buttonValue) return 'invalid_blocks';
        } else if (e.type === 'static_select') {
          const opts = e.options as Block[] | undefined;
          if (!Array.isArray(opts) || opts.length === 0 || opts.length > LIMITS.selectOptions) return 'invalid_blocks';
          for (const o of opts) if (((o.text as { text?: string }).text ?? '').length > LIMITS.optionText) return 'invalid_blocks';
        } else return 'invalid_blocks';
      }
    } else if (!['context', 'divider', 'header', 'markdown', 'rich_text', 'image'].includes(String(b.type))) {
      return 'invalid_blocks';
    }
  }
  if (blocks.length > 0 && (text === undefined || text === '')) return undefined; // blocks alone are fine (a warning on Slack)
  return undefined;
}
