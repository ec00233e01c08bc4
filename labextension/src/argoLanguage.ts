// The language of a `%%argo` cell: the magic line, then an Argo manifest in YAML or a
// Python script.
//
// A YAML body is tokenised by CodeMirror's YAML mode (the one JupyterLab uses for .yaml
// files), so keys, strings, comments and `{{...}}` look as they do in a YAML file; a
// Python body (`%%argo script NAME`, or a body that is not a manifest) by CodeMirror's
// Python mode. The magic line gets its own tokens so `%%argo -p name=value` reads as
// neither.

import {
  LanguageSupport,
  StreamLanguage,
  StreamParser,
  StringStream
} from '@codemirror/language';
import { python } from '@codemirror/legacy-modes/mode/python';
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

/** What a `%%argo` cell's body is written in. */
export type ArgoBody = 'yaml' | 'python';

/** The magic's options that take a value (`--name VALUE`), as in jupyter_argo/magics.py. */
const VALUE_OPTIONS = new Set([
  '-p',
  '--parameter',
  '--backend',
  '-n',
  '--namespace',
  '--name',
  '--generate-name',
  '--entrypoint',
  '--out',
  '--timeout',
  '--image',
  '--input',
  '--output'
]);

/** The first word of the magic line that is neither an option nor an option's value. */
function firstWord(magicArguments: string): string | undefined {
  const words = magicArguments.match(/"(?:[^"\\]|\\.)*"?|'[^']*'?|\S+/g) ?? [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (!word.startsWith('-')) {
      return word;
    }
    if (VALUE_OPTIONS.has(word)) {
      i++; // its value
    }
  }
  return undefined;
}

/**
 * How a YAML manifest's first line starts: a document marker or directive, a list item,
 * a flow collection (JSON), a complex key, or `key:` followed by a space or the line end.
 * Python's first lines (`def f(x: int):`, `import os`, `print(...)`, `x = 1`) match none;
 * a bare annotation (`x: int`) does, and the kernel reads it as YAML too.
 */
const YAML_START =
  /^(?:---|\.\.\.|%[A-Z]|-(?:\s|$)|\?(?:\s|$)|[{[]|(?:"[^"]*"|'[^']*'|[\w./-]+)[ \t]*:(?:\s|$))/;

/**
 * Whether a `%%argo` cell's body is YAML or Python, decided cheaply from its first lines
 * as the kernel decides from the whole: `%%argo script NAME` is Python; otherwise a body
 * that starts as a YAML manifest is YAML (YAML is tried first), and one that starts
 * otherwise is Python. Comment lines are skipped (`#` starts a comment in both); an empty
 * body, or one of comments only, is YAML.
 */
export function argoBody(text: string): ArgoBody {
  const head = text.slice(0, HEAD_CHARS);
  const magic = MAGIC_LINE.exec(head);
  if (!magic) {
    return 'yaml';
  }
  const rest = head.slice(magic[0].length);
  const lineEnd = rest.search(/\r?\n/);
  const magicArguments = lineEnd < 0 ? rest : rest.slice(0, lineEnd);
  if (firstWord(magicArguments) === 'script') {
    return 'python';
  }
  if (lineEnd < 0) {
    return 'yaml';
  }
  for (const line of rest.slice(lineEnd).split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      continue;
    }
    return YAML_START.test(trimmed) ? 'yaml' : 'python';
  }
  return 'yaml';
}

interface IArgoState {
  /** Still on the magic line (blank lines before it do not reach the tokenizer). */
  magicLine: boolean;
  /** The body's mode's state (YAML's or Python's). */
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

/** A copy of a mode's state: its records copied one level deep, arrays of records too. */
function copyModeState(state: unknown): unknown {
  if (typeof state !== 'object' || state === null) {
    return state;
  }
  if (Array.isArray(state)) {
    return state.map(item =>
      typeof item === 'object' && item !== null ? { ...item } : item
    );
  }
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state)) {
    copy[key] = Array.isArray(value) ? copyModeState(value) : value;
  }
  return copy;
}

function argoParser(
  name: string,
  body: StreamParser<unknown>
): StreamLanguage<IArgoState> {
  return StreamLanguage.define<IArgoState>({
    name,
    startState: indentUnit => ({
      magicLine: true,
      body: body.startState ? body.startState(indentUnit) : {}
    }),
    // YAML's state is a flat record; Python's holds an array of scope records.
    copyState: state => ({
      magicLine: state.magicLine,
      body: copyModeState(state.body)
    }),
    token: (stream, state) =>
      state.magicLine
        ? magicToken(stream, state)
        : body.token(stream, state.body),
    languageData: { commentTokens: { line: '#' } }
  });
}

/** The CodeMirror language support for `%%argo` cells holding YAML. */
export const argoLanguage = new LanguageSupport(
  argoParser('argo', yaml as StreamParser<unknown>)
);

/** The CodeMirror language support for `%%argo` cells holding Python. */
export const argoPythonLanguage = new LanguageSupport(
  argoParser('argo-python', python as StreamParser<unknown>)
);

/** The language support for a `%%argo` cell's text. */
export function argoLanguageOf(text: string): LanguageSupport {
  return argoBody(text) === 'python' ? argoPythonLanguage : argoLanguage;
}
