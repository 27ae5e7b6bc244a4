"""Short text and HTML summaries for notebooks: a few key values, never whole arrays."""

from __future__ import annotations

import html

import numpy as np

# at most this many values of a vector are shown
SHOWN = 4


def number(value, digits: int = 7) -> str:
    return f"{float(value):.{digits}g}"


def vector(values, digits: int = 7) -> str:
    """``[v0, v1, ...]`` with at most :data:`SHOWN` values, then how many there are."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    shown = ", ".join(number(v, digits) for v in flat[:SHOWN])
    if flat.size > SHOWN:
        return f"[{shown}, ...] ({flat.size} values)"
    return f"[{shown}]"


def text(title: str, rows: list[tuple[str, str]]) -> str:
    width = max((len(key) for key, _ in rows), default=0)
    return "\n".join([title, *(f"  {key:<{width}}  {value}" for key, value in rows)])


def html_table(title: str, rows: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>" for key, value in rows
    )
    return f"<table><caption>{html.escape(title)}</caption>{body}</table>"
