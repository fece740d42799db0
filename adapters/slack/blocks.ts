// An OutboundMessage as Slack blocks: one section with the mrkdwn text (≤ 3,000 characters, Slack's section
// limit, which the core measured against) and, for buttons, an actions block whose element `value` is the
// core's opaque token. Up to five choices are buttons; more become one static_select (its options carry the
// tokens), which keeps long option lists usable and within Slack's element limits.
import type { types } from '@slack/bolt';
import { PlatformError, type Button, type OutboundMessage } from '../../src/core/adapter-types.js';
import { escapeMrkdwn, markdownToMrkdwn, SLACK_MAX_TEXT } from './format.js';

/** Choices shown as buttons; more become a select menu. */
export const MAX_BUTTONS = 5;
/** Slack's limit on button and option text, in characters. */
const MAX_LABEL = 75;
/** Slack's limit on an element's value; the core's tokens are far shorter. */
const MAX_VALUE = 2000;
/** Slack's limit on static_select options. */
const MAX_OPTIONS = 100;

export type Block = types.KnownBlock;

/** The block_id of the actions block; presses on it carry the core's token. */
export const ACTIONS_BLOCK_ID = 'lb-actions';

function label(text: string): string {
  const points = Array.from(text);
  return points.length <= MAX_LABEL ? text : points.slice(0, MAX_LABEL - 1).join('') + '…';
}

function checkToken(b: Button): string {
  if (b.token.length < 1 || b.token.length > MAX_VALUE) {
    throw new PlatformError(`button "${b.label}": token must be 1–${MAX_VALUE} characters (got ${b.token.length})`, 'button_value_invalid', true);
  }
  return b.token;
}

/** Button rows → one actions block (buttons, or a static_select beyond MAX_BUTTONS). */
export function actionsBlock(rows: Button[][] | undefined): types.ActionsBlock | undefined {
  const buttons = (rows ?? []).flat();
  if (buttons.length === 0) return undefined;
  if (buttons.length <= MAX_BUTTONS) {
    return {
      type: 'actions',
      block_id: ACTIONS_BLOCK_ID,
      elements: buttons.map((b, i) => ({ type: 'button', action_id: `lb-${i}`, text: { type: 'plain_text', text: label(b.label), emoji: true }, value: checkToken(b) })),
    };
  }
  if (buttons.length > MAX_OPTIONS) throw new PlatformError(`${buttons.length} choices: Slack menus hold at most ${MAX_OPTIONS}`, 'too_many_options', true);
  return {
    type: 'actions',
    block_id: ACTIONS_BLOCK_ID,
    elements: [
      {
        type: 'static_select',
        action_id: 'lb-select',
        placeholder: { type: 'plain_text', text: 'Choose…' },
        options: buttons.map((b) => ({ text: { type: 'plain_text', text: label(b.label), emoji: true }, value: checkToken(b) })),
      },
    ],
  };
}

/** The `text` (fallback and notifications) and `blocks` of a message. */
export function toSlackPayload(message: OutboundMessage): { text: string; blocks: Block[] } {
  const text = message.plain ? escapeMrkdwn(message.text) : markdownToMrkdwn(message.text);
  if (text.length > SLACK_MAX_TEXT) {
    // The core splits against SLACK_MAX_TEXT measured on this same output; getting here is a caller bug.
    throw new PlatformError(`slack message text is ${text.length} characters after formatting; the limit is ${SLACK_MAX_TEXT}`, 'msg_too_long', true);
  }
  const blocks: Block[] = [];
  if (text.trim()) {
    // plain: shown literally (no *bold* etc.); verbatim: Slack adds no links or mentions of its own.
    blocks.push({ type: 'section', block_id: 'lb-text', text: message.plain ? { type: 'plain_text', text: message.text.slice(0, SLACK_MAX_TEXT), emoji: false } : { type: 'mrkdwn', text, verbatim: true } });
  }
  const actions = actionsBlock(message.buttons);
  if (actions) blocks.push(actions);
  return { text: text.trim() ? text : ' ', blocks };
}
