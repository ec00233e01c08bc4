// jupyter-argo's JupyterLab extension: `%%argo` cells highlighted as YAML or Python.
//
// JupyterLab gives every code cell its kernel's language (IPython), chosen from the
// cell model's MIME type in a compartment it owns. Rather than rewrite the model's MIME
// type (the notebook resets it whenever the kernel changes, and other features read
// it), each editor gets a compartment of its own holding the `%%argo` language at the
// highest precedence, filled while the cell starts with `%%argo` and empty otherwise:
// the YAML language, or the Python one when the body is a script (argoLanguage.ts).
// The choice follows edits in the same transaction (no flash of Python colours) and
// follows the cell's MIME type, so only cells of an IPython kernel are affected.

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import type { CodeEditor } from '@jupyterlab/codeeditor';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry
} from '@jupyterlab/codemirror';
import { Compartment, EditorState, Extension, Prec } from '@codemirror/state';
import { ViewPlugin } from '@codemirror/view';
import type { LanguageSupport } from '@codemirror/language';

import { argoLanguageOf, HEAD_CHARS, isArgoCell } from './argoLanguage';

/** Cells of these MIME types run in IPython, where `%%argo` means something. */
const IPYTHON_MIME_TYPES = new Set(['text/x-ipython', 'text/x-python']);

function argoCellLanguage(model: CodeEditor.IModel): Extension {
  const slot = new Compartment();
  const none: Extension = [];
  // The `%%argo` language (YAML or Python) this head wants, or none; at the highest
  // precedence, one wrapper per language so the compartment's content can be compared.
  const languages = new Map<LanguageSupport, Extension>();
  const wanted = (head: string): Extension => {
    if (!IPYTHON_MIME_TYPES.has(model.mimeType) || !isArgoCell(head)) {
      return none;
    }
    const language = argoLanguageOf(head);
    let extension = languages.get(language);
    if (extension === undefined) {
      extension = Prec.highest(language);
      languages.set(language, extension);
    }
    return extension;
  };

  // Edits: decided inside the editing transaction itself.
  const followEdits = EditorState.transactionExtender.of(tr => {
    if (!tr.docChanged) {
      return null;
    }
    const want = wanted(tr.newDoc.sliceString(0, HEAD_CHARS));
    if (want === slot.get(tr.startState)) {
      return null;
    }
    return { effects: slot.reconfigure(want) };
  });

  // The kernel's language arrives (or changes) after the editor exists.
  const followMimeType = ViewPlugin.define(view => {
    const sync = (): void => {
      const want = wanted(view.state.doc.sliceString(0, HEAD_CHARS));
      if (want !== slot.get(view.state)) {
        view.dispatch({ effects: slot.reconfigure(want) });
      }
    };
    model.mimeTypeChanged.connect(sync);
    return {
      destroy: () => {
        model.mimeTypeChanged.disconnect(sync);
      }
    };
  });

  const initial = wanted(model.sharedModel.getSource().slice(0, HEAD_CHARS));
  return [slot.of(initial), followEdits, followMimeType];
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-argo:highlight',
  description: 'YAML or Python highlighting for %%argo cells.',
  autoStart: true,
  requires: [IEditorExtensionRegistry],
  activate: (
    _app: JupyterFrontEnd,
    extensions: IEditorExtensionRegistry
  ): void => {
    extensions.addExtension({
      name: 'jupyter-argo:argo-cell-language',
      // Cells and console prompts are inline editors; files keep their own language.
      factory: options =>
        options.inline
          ? EditorExtensionRegistry.createImmutableExtension(
              argoCellLanguage(options.model)
            )
          : null
    });
  }
};

export default plugin;
