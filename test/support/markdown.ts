/**
 * Just enough Markdown for test/unit/docs.test.ts: fenced code blocks, inline code spans,
 * relative links, headings and their GitHub anchors, and the words of a shell command line.
 */

export interface CodeBlock {
  /** The info string's first word (`sh`, `json`, …), '' when there is none. */
  lang: string;
  lines: string[];
  /** 1-based line of the opening fence. */
  line: number;
}

export interface MarkdownFile {
  blocks: CodeBlock[];
  /** Runs of prose lines between blank lines (and fences), each with its first line's number. */
  paragraphs: Array<{ text: string; line: number }>;
}

/** Splits a file into fenced code blocks and prose paragraphs (fences may be indented, as inside list items). */
export function readMarkdown(source: string): MarkdownFile {
  const blocks: CodeBlock[] = [];
  const paragraphs: Array<{ text: string; line: number }> = [];
  let fence: { marker: string; block: CodeBlock } | undefined;
  let paragraph: { lines: string[]; line: number } | undefined;
  const endParagraph = () => {
    if (paragraph) paragraphs.push({ text: paragraph.lines.join('\n'), line: paragraph.line });
    paragraph = undefined;
  };
  source.split('\n').forEach((text, index) => {
    const opening = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(text);
    if (fence) {
      if (text.trim().startsWith(fence.marker) && text.trim().replace(/[`~]/g, '') === '') fence = undefined;
      else fence.block.lines.push(text);
      return;
    }
    if (opening) {
      endParagraph();
      const block = { lang: opening[2]!, lines: [], line: index + 1 };
      blocks.push(block);
      fence = { marker: opening[1]!, block };
      return;
    }
    if (text.trim() === '') return endParagraph();
    paragraph ??= { lines: [], line: index + 1 };
    paragraph.lines.push(text);
  });
  endParagraph();
  return { blocks, paragraphs };
}

const CODE_SPAN = /(`+)([\s\S]*?[^`])\1(?!`)/g;

/** The inline code spans of a paragraph, line breaks inside one read as spaces. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(CODE_SPAN)].map((match) => match[2]!.replace(/\s*\n\s*/g, ' ').trim());
}

/** The targets of a paragraph's inline links `[text](target)`, code spans left out. */
export function linkTargets(text: string): string[] {
  const prose = text.replace(CODE_SPAN, 'code');
  return [...prose.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
}

/** GitHub's anchor for a heading: formatting dropped, lower case, punctuation dropped, spaces as hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a file's headings make, repeated headings numbered as GitHub numbers them (`-1`, `-2`). */
export function anchors(file: MarkdownFile, source: string): Set<string> {
  const inFence = new Set(
    file.blocks.flatMap((block) => Array.from({ length: block.lines.length + 2 }, (_, offset) => block.line + offset)),
  );
  const seen = new Map<string, number>();
  const result = new Set<string>();
  source.split('\n').forEach((text, index) => {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading || inFence.has(index + 1)) return;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  });
  return result;
}

/**
 * A shell line as words, quotes removed, each simple command apart: `|`, `||`, `&&`, `;`, `(`,
 * `)` and `$(` end one; `#` at the start of a word starts a comment. Enough for the command
 * lines of these docs, not a shell.
 */
export function simpleCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  const endWord = () => {
    if (word !== undefined) commands[commands.length - 1]!.push(word);
    word = undefined;
  };
  const endCommand = () => {
    endWord();
    commands.push([]);
  };
  for (let i = 0; i < line.length; i++) {
    const character = line[i]!;
    if (character === "'" || character === '"') {
      const close = line.indexOf(character, i + 1);
      const end = close === -1 ? line.length : close;
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (character === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (/\s/.test(character)) {
      endWord();
    } else if (character === '#' && word === undefined) {
      break;
    } else if (character === '$' && line[i + 1] === '(') {
      endCommand();
      i++;
    } else if ('|&;()'.includes(character)) {
      endCommand();
      if ((character === '|' || character === '&') && line[i + 1] === character) i++;
    } else {
      word = (word ?? '') + character;
    }
  }
  endWord();
  return commands.filter((command) => command.length > 0);
}

/** Whether a code block is shell (`sh`, `bash`, `shell`, `console`): command lines to check and run. */
export function isShellBlock(block: CodeBlock): boolean {
  return ['sh', 'bash', 'shell', 'console'].includes(block.lang);
}

/** The lines of a shell code block, continuation lines (`\` at the end) joined. */
export function shellLines(block: CodeBlock): string[] {
  const lines: string[] = [];
  let pending = '';
  for (const text of block.lines) {
    if (/\\\s*$/.test(text)) pending += text.replace(/\\\s*$/, ' ');
    else {
      lines.push(pending + text);
      pending = '';
    }
  }
  if (pending) lines.push(pending);
  return lines;
}
