// The language of a `%%argo` cell: the magic line, then an Argo manifest in YAML.
//
// The body is tokenised by CodeMirror's YAML mode (the one JupyterLab uses for .yaml
// files), so keys, strings, comments and `{{...}}` look as they do in a YAML file; the
// magic line gets its own tokens so `%%argo -p name=value` does not read as YAML.

import {
  LanguageSupport,
  StreamLanguage,
  StringStream
} from '@codemirror/language';
import { yaml } from '@codemirror/legacy-modes/mode/yaml';

/** The cell magic this language is for. */
export const MAGIC = '%%argo';

/** Leading blank lines, then `%%argo` ending the word (IPython drops leading blank lines). */
const MAGIC_LINE = /^(?:[ \t]*\r?\n)*[ \t]*%%argo(?=[ \t]|\r?\n|$)/;

/** How much of a cell is read to find the magic line (only blank lines may precede it). */
export const HEAD_CHARS = 4096;

/** Whether a cell's text starts with the `%%argo` magic line. */
export function isArgoCell(text: string): boolean {
  return MAGIC_LINE.test(text.slice(0, HEAD_CHARS));
}

interface IArgoState {
  /** Still on the magic line (blank lines before it do not reach the tokenizer). */
  magicLine: boolean;
  /** The YAML mode's state for the body. */
  body: unknown;
}

/** Tokens of the magic line: `%%argo`, its options, quoted strings; the rest is plain. */
function magicToken(stream: StringStream, state: IArgoState): string | null {
  let style: string | null = null;
  if (stream.match(MAGIC)) {
    style = 'meta';
  } else if (stream.match(/^--?[A-Za-z][\w-]*/)) {
    style = 'attribute';
  } else if (stream.match(/^(?:"(?:[^"\\]|\\.)*"?|'[^']*'?)/)) {
    style = 'string';
  } else if (!stream.eatSpace() && !stream.match(/^[^\s"']+/)) {
    stream.next();
  }
  if (stream.eol()) {
    state.magicLine = false;
  }
  return style;
}

const argoParser = StreamLanguage.define<IArgoState>({
  name: 'argo',
  startState: indentUnit => ({
    magicLine: true,
    body: yaml.startState ? yaml.startState(indentUnit) : {}
  }),
  copyState: state => ({
    magicLine: state.magicLine,
    // The YAML mode's state is a flat record of numbers and booleans.
    body: { ...(state.body as object) }
  }),
  token: (stream, state) =>
    state.magicLine
      ? magicToken(stream, state)
      : yaml.token(stream, state.body),
  languageData: { commentTokens: { line: '#' } }
});

/** The CodeMirror language support for `%%argo` cells. */
export const argoLanguage = new LanguageSupport(argoParser);
