"""Write docs/api.md, the Python API reference, from the code's own signatures and docstrings.

    python scripts/gen_api_docs.py           # rewrite docs/api.md
    python scripts/gen_api_docs.py --check   # exit 1 if docs/api.md is out of date

``tests/test_public_api.py`` checks that the committed file is up to date.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

from docs_output import write_or_check

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "api.md"

# (section title, module, names) — the public API and the steps a learner calls.
SECTIONS = [
    ("The package", "gradstep", None),
    (
        "The document's steps",
        "gradstep.steps",
        ["predict", "mse_loss", "gradients", "update", "batch_indices"],
    ),  # fmt: skip
    ("Engines", "gradstep.engines", ["names", "spec", "choose"]),
    (
        "The rules every front door shares",
        "gradstep.policies",
        ["Scaler", "auto_lr", "Certificate", "Patience", "DEFAULT_TOL"],
    ),
    ("Sufficient statistics", "gradstep.moments", ["Moments"]),
    ("The driver", "gradstep.drive", ["descend", "Rules", "Outcome"]),
    ("The loss as a quadratic form", "gradstep.quadratic", ["QuadraticLoss"]),
    ("Checkpoints", "gradstep.checkpoint", ["save_state", "load_state", "CheckpointError"]),
    ("Computation graph", "gradstep.tutorial.graph", ["render_graph"]),
]

HEADER = """\
# Python API reference

Generated from the code's signatures and docstrings by `scripts/gen_api_docs.py`;
do not edit by hand. The README shows these at work; the user guide,
[guide.md](guide.md), covers the command line.
"""


def signature_of(obj, fallback: str = "") -> str:
    """The signature with annotations evaluated where possible (no quoted 'int')."""
    for eval_str in (True, False):
        try:
            return str(inspect.signature(obj, eval_str=eval_str))
        except (TypeError, ValueError, NameError):
            continue
    return fallback


def describe(obj, name: str) -> list[str]:
    kind = "class" if inspect.isclass(obj) else "function"
    signature = signature_of(obj)
    doc = inspect.getdoc(obj) or "(no docstring)"
    lines = [f"### `{name}{signature}`\n", f"*{kind}*\n", doc, ""]
    if inspect.isclass(obj):
        for attr, member in sorted(vars(obj).items()):
            if attr.startswith("_") or not callable(member):
                continue
            member = getattr(obj, attr)
            sig = signature_of(member, "(...)")
            summary = (inspect.getdoc(member) or "").split("\n\n")[0].replace("\n", " ")
            lines.append(f"- `{name}.{attr}{sig}`" + (f": {summary}" if summary else ""))
        lines.append("")
    return lines


def render() -> str:
    parts = [HEADER]
    for title, module_name, names in SECTIONS:
        module = importlib.import_module(module_name)
        parts += [f"## {title} (`{module_name}`)\n"]
        for name in names or module.__all__:
            parts += describe(getattr(module, name), name)
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str]) -> int:
    return write_or_check(TARGET, render(), "gen_api_docs.py", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
