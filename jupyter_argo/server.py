"""The Jupyter server extension: notebooks are saved with the workflow view's static graph.

A widget output outlives its kernel badly: reopened with no kernel, JupyterLab and
Notebook 7 show "Error displaying widget: model not found" where the view was, and
nbconvert prefers a widget whose state was saved but whose code it cannot load. The view's
display data also carries the graph as `image/svg+xml` and a summary as `text/plain`, and
marks itself in the output's metadata (`widgets.view.STATIC_KEY`); this extension's
pre-save hook drops the widget from such outputs in the file it writes. The open notebook
keeps its live view; the file shows the graph wherever it is opened.

Enabled by `jupyter-config/jupyter_server_config.d/jupyter_argo.json` (installed with the
package), or `jupyter server extension enable jupyter_argo`.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

__all__ = ["strip_live_views"]

# As in widgets/view.py, without importing anywidget into the server.
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_STATIC_KEY = "jupyter-argo"


def strip_live_views(notebook: MutableMapping[str, Any]) -> int:
    """Drop the widget from every workflow-view output of `notebook` (nbformat 4 JSON)
    that also holds its static graph; returns how many outputs changed."""
    changed = 0
    for cell in notebook.get("cells") or ():
        if not isinstance(cell, MutableMapping):
            continue
        for output in cell.get("outputs") or ():
            if not isinstance(output, MutableMapping):
                continue
            data, metadata = output.get("data"), output.get("metadata")
            if not isinstance(data, MutableMapping) or not isinstance(metadata, MutableMapping):
                continue
            marker = metadata.get(_STATIC_KEY)
            static = marker.get("static") if isinstance(marker, MutableMapping) else None
            if _WIDGET_VIEW in data and static in data:
                del data[_WIDGET_VIEW]
                changed += 1
    return changed


def _pre_save(model: MutableMapping[str, Any], **_kwargs: Any) -> None:
    if model.get("type") == "notebook" and isinstance(model.get("content"), MutableMapping):
        strip_live_views(model["content"])


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.contents_manager.register_pre_save_hook(_pre_save)
