// Markdown → Matrix message content: `body` is the markdown itself (what clients without HTML show, and
// what Matrix clients send too), `formatted_body` is `org.matrix.custom.html` in the safe subset the
// spec recommends (bold, italic, strike, code, pre with a language class, links, lists, quotes, tables,
// headings). markdown-it with raw HTML off escapes everything the agent writes, so nothing in a reply can
// become markup; images become links (Matrix renders only mxc:// images).
//
// Size: Synapse refuses events over 65,536 bytes of JSON. The largest thing sent for a chunk is its edit
// (the `* ` fallback body plus `m.new_content` with both bodies), so a chunk is measured as that edit's
// content in UTF-8 JSON bytes, and the limit leaves room for the event's envelope (ids, hashes,
// signatures, relations).
import { createChatMarkdown, escapeHtmlAttr as escapeHtml, fenceLanguage } from '../shared/markdown-parts.js';

/** Largest edit content (JSON bytes) of one chunk; the rest of 65,536 is the event envelope. */
export const MATRIX_MAX_CONTENT_BYTES = 60_000;

/** `formatted_body`'s format. */
export const HTML_FORMAT = 'org.matrix.custom.html';

// breaks:true because chat text uses single newlines as line breaks. Matrix HTML is markdown-it's own
// renderer with a few rules replaced, not the walk Telegram and Slack share: clients render the HTML.
const md = createChatMarkdown({ breaks: true });

md.renderer.rules.image = (tokens, i) => {
  const t = tokens[i];
  const src = t.attrGet('src') ?? '';
  const alt = t.children?.map((c) => c.content).join('') || src;
  return /^https?:\/\//i.test(src) ? `<a href="${escapeHtml(src)}">${escapeHtml(alt)}</a>` : escapeHtml(alt);
};
// Matrix's recommended tag list names <del>; markdown-it writes <s>.
md.renderer.rules.s_open = () => '<del>';
md.renderer.rules.s_close = () => '</del>';
md.renderer.rules.fence = (tokens, i) => {
  const t = tokens[i];
  const lang = fenceLanguage(t.info);
  return `<pre><code${lang ? ` class="language-${lang}"` : ''}>${escapeHtml(t.content)}</code></pre>\n`;
};

/** markdown → the HTML of `formatted_body` (no trailing newline). */
export function markdownToMatrixHtml(markdown: string): string {
  return md.render(markdown).trimEnd();
}

/** The content fields of a message: plain `body`, and the HTML unless `plain`. */
export interface TextContent {
  msgtype: 'm.text';
  body: string;
  format?: typeof HTML_FORMAT;
  formatted_body?: string;
}

export function textContent(markdown: string, plain = false): TextContent {
  if (plain) return { msgtype: 'm.text', body: markdown };
  return { msgtype: 'm.text', body: markdown, format: HTML_FORMAT, formatted_body: markdownToMatrixHtml(markdown) };
}

/**
 * The content of an edit (`m.replace`): the new content in `m.new_content`, and a `* `-prefixed plain
 * fallback for clients without edits (without HTML, which would only double the size). `m.mentions` is
 * empty in both so an edit never notifies anyone again.
 */
export function editContent(eventId: string, markdown: string, plain = false): Record<string, unknown> {
  const next = textContent(markdown, plain);
  return {
    msgtype: 'm.text',
    body: `* ${next.body}`,
    'm.new_content': { ...next, 'm.mentions': {} },
    'm.mentions': {},
    'm.relates_to': { rel_type: 'm.replace', event_id: eventId },
  };
}

// A Matrix event id is `$` + 43 base64 characters in current room versions.
const SAMPLE_EVENT_ID = `$${'x'.repeat(43)}`;

/** Size of a chunk as it counts against MATRIX_MAX_CONTENT_BYTES: its largest (edit) form, in UTF-8 JSON bytes. */
export function measureMatrix(markdown: string): number {
  return Buffer.byteLength(JSON.stringify(editContent(SAMPLE_EVENT_ID, markdown)), 'utf8');
}
