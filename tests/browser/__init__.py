"""Browser tests' helpers: a real JupyterLab server (`lab`) and Debian's Chromium (`chromium`)."""
