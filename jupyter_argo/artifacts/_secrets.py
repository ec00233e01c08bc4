"""Secret values for one transfer: looked up through the engine, kept out of every message."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jupyter_argo.errors import ArtifactError

__all__ = ["SecretLookup", "Secrets"]

SecretLookup = Callable[[str, str], "str | None"]
"""`secrets(name, key)`: the value of key `key` of the applied Secret `name`, or None."""

_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


class Secrets:
    """Resolves `SecretKeySelector`s and remembers every value so messages can be scrubbed."""

    def __init__(self, lookup: SecretLookup) -> None:
        self._lookup = lookup
        self._values: set[str] = set()

    def get(self, selector: Any, *, field: str) -> str | None:
        """The value `selector` ({name, key}) points to; None when no selector is given."""
        if selector is None:
            return None
        if not isinstance(selector, Mapping) or not selector.get("name"):
            raise ArtifactError(f"{field} must be a secret selector with a name and a key")
        name, key = str(selector["name"]), str(selector.get("key", ""))
        value = self._lookup(name, key)
        if value is None:
            raise ArtifactError(f'{field}: secret "{name}" has no key "{key}"')
        if value:
            self._values.add(value)
            self._values.add(value.strip())
        return value

    def redact(self, text: str) -> str:
        """`text` with every secret value seen so far, and any URL user-info, masked."""
        for value in sorted(self._values, key=len, reverse=True):
            # Masking a one- or two-letter "secret" would garble every message.
            if len(value) >= 3:
                text = text.replace(value, "***")
        return _URL_USERINFO.sub("***@", text)
