"""``keyword``: whether a string is a Python keyword (component registries check that the
names they are given are valid identifiers: MONAI's ``ComponentStore.add``)."""

from __future__ import annotations

import keyword
from typing import Any

from ._support import function

MEMBERS: dict[str, Any] = {
    "iskeyword": function("keyword.iskeyword", keyword.iskeyword),
    "issoftkeyword": function("keyword.issoftkeyword", keyword.issoftkeyword),
    "kwlist": list(keyword.kwlist),
    "softkwlist": list(keyword.softkwlist),
}
