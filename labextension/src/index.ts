// jupyter-argo's JupyterLab extension: YAML highlighting for `%%argo` cells.
//
// JupyterLab gives every code cell its kernel's language (IPython), chosen from the
// cell model's MIME type in a compartment it owns. Rather than rewrite the model's MIME
// type (the notebook resets it whenever the kernel changes, and other features read
// it), each editor gets a compartment of its own holding the `%%argo` language at the
// highest precedence, filled while the cell starts with `%%argo` and empty otherwise.
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

import { argoLanguage, HEAD_CHARS, isArgoCell } from './argoLanguage';

/** Cells of these MIME types run in IPython, where `%%argo` means something. */
const IPYTHON_MIME_TYPES = new Set(['text/x-ipython', 'text/x-python']);

function argoCellLanguage(model: CodeEditor.IModel): Extension {
  const slot = new Compartment();
  const argo = Prec.highest(argoLanguage);
  const none: Extension = [];
  const wanted = (head: string): boolean =>
    IPYTHON_MIME_TYPES.has(model.mimeType) && isArgoCell(head);
  const isOn = (state: EditorState): boolean => slot.get(state) === argo;

  // Edits: decided inside the editing transaction itself.
  const followEdits = EditorState.transactionExtender.of(tr => {
    if (!tr.docChanged) {
      return null;
    }
    const on = wanted(tr.newDoc.sliceString(0, HEAD_CHARS));
    if (on === isOn(tr.startState)) {
      return null;
    }
    return { effects: slot.reconfigure(on ? argo : none) };
  });

  // The kernel's language arrives (or changes) after the editor exists.
  const followMimeType = ViewPlugin.define(view => {
    const sync = (): void => {
      const on = wanted(view.state.doc.sliceString(0, HEAD_CHARS));
      if (on !== isOn(view.state)) {
        view.dispatch({ effects: slot.reconfigure(on ? argo : none) });
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
  return [slot.of(initial ? argo : none), followEdits, followMimeType];
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-argo:highlight',
  description: 'YAML highlighting for %%argo cells.',
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
