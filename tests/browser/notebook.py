"""A notebook open in JupyterLab, seen through the page: cells, commands, colours.

Commands go through `window.jupyterapp.commands` (what a menu or a shortcut runs);
reading is plain DOM. Every wait is on a condition in the page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from browser.lab import Lab

KERNEL_TIMEOUT_MS = 60_000

# The notebook at `path` is the current tab and its kernel is ready.
_KERNEL_IDLE = """(path) => {
  const panel = window.jupyterapp?.shell.currentWidget;
  return panel?.context?.path === path
    && panel.sessionContext?.session?.kernel?.status === 'idle';
}"""

# The colour each token of one cell's editor is drawn in, in document order.
_TOKEN_COLOURS = """(index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  const lines = cell.querySelectorAll('.cm-content .cm-line');
  const tokens = [];
  for (const line of lines) {
    for (const span of line.querySelectorAll('span')) {
      tokens.push([span.textContent.trim(), getComputedStyle(span).color]);
    }
    tokens.push(['', '']);  // keeps tokens of different lines apart
  }
  return tokens;
}"""

# What a CSS colour (such as a theme variable) resolves to inside a cell editor.
_RESOLVED_COLOUR = """(css) => {
  const host = document.querySelector('.jp-Notebook .cm-content');
  const probe = document.createElement('span');
  probe.style.color = css;
  host.appendChild(probe);
  const colour = getComputedStyle(probe).color;
  probe.remove();
  return colour;
}"""


def write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook of code cells for the IPython kernel, as JupyterLab would save it."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for source in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {
                "name": "python",
                "codemirror_mode": {"name": "ipython", "version": 3},
            },
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


def open_notebook(page: Any, lab: Lab, path: str) -> None:
    """Open the notebook at `path` alone in a fresh workspace; wait until its kernel is idle."""
    page.goto(lab.open_url(path))
    page.wait_for_function(_KERNEL_IDLE, arg=path, timeout=KERNEL_TIMEOUT_MS)
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=KERNEL_TIMEOUT_MS)


def command(page: Any, name: str, args: dict[str, Any] | None = None) -> Any:
    """Run a JupyterLab command, as its menu entry or shortcut would."""
    return page.evaluate(
        "([name, args]) => window.jupyterapp.commands.execute(name, args)", [name, args or {}]
    )


def cell(page: Any, index: int) -> Any:
    """The locator of the notebook's `index`th cell."""
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def token_colours(page: Any, index: int) -> list[tuple[str, str]]:
    """(text, colour) of each highlighted token in cell `index`."""
    tokens = page.evaluate(_TOKEN_COLOURS, index)
    return [(text, colour) for text, colour in tokens if text]


def colour_of(page: Any, index: int, text: str) -> str:
    """The colour the token `text` is drawn in, in cell `index` ('' when not highlighted)."""
    return dict(token_colours(page, index)).get(text, "")


def resolved_colour(page: Any, css: str) -> str:
    """What `css` (for example `var(--jp-mirror-editor-atom-color)`) computes to."""
    return str(page.evaluate(_RESOLVED_COLOUR, css))
