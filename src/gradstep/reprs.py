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


def names(values) -> str:
    """``a, b, c, d, ... (12 names)``: at most :data:`SHOWN` names, then how many there are."""
    values = [str(v) for v in values]
    shown = ", ".join(values[:SHOWN])
    return f"{shown}, ... ({len(values)} names)" if len(values) > SHOWN else shown


def losses(values) -> str | None:
    """``first (first epoch) -> last (last)`` over the finite values; None when none is."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return None
    if flat.size == 1:
        return number(flat[0])
    return f"{number(flat[0])} (first epoch) -> {number(flat[-1])} (last)"
