"""File names as text: the store, reports and terminals need UTF-8, file systems do not.

On Linux a file name is bytes; Python keeps bytes that are not UTF-8 as lone surrogates
(``surrogateescape``), which SQLite, JSON consumers and terminals refuse.  Such a name
is shown and stored with each such byte as ``\\xNN``; :func:`from_text` turns it back
into the name on disk.
"""

from __future__ import annotations

import re

__all__ = ["as_text", "from_text"]

_ESCAPED = re.compile(r"\\x([89a-fA-F][0-9a-fA-F])")


def as_text(name: str) -> str:
    r"""``name`` as valid UTF-8 text: undecodable bytes become ``\xNN``.

    Examples
    --------
    >>> as_text("take_1.mp4")
    'take_1.mp4'
    >>> as_text(b"take_\xff.mp4".decode("utf-8", "surrogateescape"))
    'take_\\xff.mp4'
    """
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape")
        return raw.decode("utf-8", "backslashreplace")


def from_text(text: str) -> str:
    r"""The file name that :func:`as_text` showed as ``text`` (``\xNN`` back to bytes).

    Examples
    --------
    >>> from_text("take_\\xff.mp4") == b"take_\xff.mp4".decode("utf-8", "surrogateescape")
    True
    """
    return _ESCAPED.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), text)
