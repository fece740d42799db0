// Deterministic reply bodies of the default agent (long markdown, hostile markdown).

/** > 12,000 chars: headings, lists, a table and several fenced code blocks with languages. */
export function longReply(): string {
  const parts: string[] = ['# A long answer\n\nThis reply is deliberately long so that chat bridges must split it.\n'];
  for (let i = 1; i <= 11; i++) {
    parts.push(`\n## Section ${i}: notes on step ${i}\n\n`);
    parts.push(
      `Paragraph ${i}.1 explains the step in prose. It is long enough to wrap on every chat client and it ` +
        `says the same deterministic thing each time, so tests can compare it byte for byte. ` +
        `Step ${i} builds on step ${i - 1 < 1 ? 'zero' : i - 1} and prepares step ${i + 1}.\n\n`,
    );
    parts.push(`- bullet ${i}.a: check the inputs\n- bullet ${i}.b: run the tool\n- bullet ${i}.c: read the output\n\n`);
    parts.push(`1. first, open the file\n2. then, edit line ${i * 10}\n3. finally, save it\n\n`);
    const lang = ['ts', 'python', 'bash', 'json'][i % 4]!;
    parts.push('```' + lang + '\n' + codeSample(lang, i) + '\n```\n\n');
    parts.push(
      `Paragraph ${i}.2 follows the code block. ` +
        'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. '.repeat(6) +
        '\n',
    );
  }
  parts.push('\n## Summary table\n\n| step | tool | result |\n| --- | --- | --- |\n');
  for (let i = 1; i <= 12; i++) parts.push(`| ${i} | ${i % 2 ? 'Bash' : 'Read'} | ${i % 3 ? 'ok' : 'retried'} |\n`);
  parts.push('\nThat is the end of the long answer.\n');
  return parts.join('');
}

function codeSample(lang: string, i: number): string {
  switch (lang) {
    case 'ts':
      return [
        `export function step${i}(input: string[]): number {`,
        '  let total = 0;',
        '  for (const line of input) {',
        `    if (line.startsWith('#')) continue; // comments do not count`,
        '    total += line.length;',
        '  }',
        '  return total;',
        '}',
      ].join('\n');
    case 'python':
      return [`def step_${i}(lines):`, '    """Count non-comment characters."""', "    return sum(len(l) for l in lines if not l.startswith('#'))", '', `print(step_${i}(['a', '# b', 'cc']))`].join('\n');
    case 'bash':
      return ['#!/usr/bin/env bash', 'set -euo pipefail', `for f in src/*.ts; do`, `  wc -l "$f" | awk '{print $1}'`, 'done', `echo "step ${i} done"`].join('\n');
    default:
      return JSON.stringify({ step: i, tools: ['Bash', 'Read'], ok: true, nested: { depth: i, list: [1, 2, 3] } }, null, 2);
  }
}

/** Markdown that breaks naive formatters: unbalanced markers, HTML-ish tags, entities, nested fences, a huge line. */
export function hostileMarkdown(): string {
  return [
    'Here is some *unbalanced emphasis and **bold that never closes and _underscores_ too.',
    '',
    'Tags that are not tags: <tag>, </div>, <script>alert(1)</script>, a <b>bold</b> lie, 1 < 2 > 0.',
    'Entities: &amp; &lt; & && &#x27; AT&T "quotes" \'single\' `tick',
    '',
    '````markdown',
    'An outer fence holding an inner one:',
    '```js',
    'const s = "```";',
    '```',
    '````',
    '',
    '~~~',
    'a tilde fence with | pipes | and [brackets](not-a-link',
    '~~~',
    '',
    '[a link](https://example.invalid/path?q=1&r=2) and a bare https://example.invalid/x_y_z',
    '',
    'A very long line: ' + 'word_with_underscores-and*stars '.repeat(150),
    '',
    'Trailing backslash \\',
  ].join('\n');
}
