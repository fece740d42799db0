// Light markdown → ANSI for the terminal: bold, code, headings. Anything else stays as written, which
// reads fine in a terminal; the point is legibility, not fidelity.

const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';
const CYAN = '\x1b[36m';
const RESET = '\x1b[0m';

export function renderForTerminal(markdown: string): string {
  let inFence = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        inFence = !inFence;
        return `${DIM}${line}${RESET}`;
      }
      if (inFence) return `${CYAN}${line}${RESET}`;
      const heading = /^#{1,6}\s+(.*)$/.exec(line);
      if (heading) return `${BOLD}${heading[1]}${RESET}`;
      return line.replace(/\*\*([^*\n]+)\*\*/g, `${BOLD}$1${RESET}`).replace(/`([^`\n]+)`/g, `${CYAN}$1${RESET}`);
    })
    .join('\n');
}
