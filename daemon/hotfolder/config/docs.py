"""The README's config reference, printed from the key declarations.

    python -m hotfolder.config.docs                    # every table, as Markdown
    python -m hotfolder.config.docs --write README.md  # replace the tables in the README

In the README each table stands between two markers,

    <!-- config-keys: rendition -->
    | key | default | meaning |
    …
    <!-- /config-keys -->

and the prose around them is the README's own. tests/unit/test_config_keys.py fails when a
table differs from the declarations, so a key cannot exist undocumented.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from hotfolder.config.keys import Applies, Key
from hotfolder.config.sections import cluster, daemon, folder, http, notify, rendition, when
from hotfolder.config.sections.steps import rights, sharpen, watermark

# name -> (keys, with the reload column)
TABLES: dict[str, tuple[tuple[Key, ...], bool]] = {
    "daemon": (daemon.KEYS, True),
    "folder": (folder.KEYS, False),
    "rendition": (rendition.KEYS, False),
    "when": (when.KEYS, False),
    "watermark": (watermark.MAPPING_KEYS, False),
    "sharpen": (sharpen.MAPPING_KEYS, False),
    "set_metadata": (rights.FIELD_KEYS, False),
    "http": (http.KEYS, False),
    "notify": (notify.KEYS, False),
    "cluster": (cluster.KEYS, True),
}

_RELOAD = {Applies.NOW: "applied", Applies.RESTART: "restart", Applies.NODES: "nodes' restart"}
_BLOCK = re.compile(r"(<!-- config-keys: (\w+) -->\n)(.*?)(<!-- /config-keys -->)", re.S)
COMMAND = "PYTHONPATH=daemon python -m hotfolder.config.docs --write README.md"


def table(keys: Iterable[Key], reload: bool = False) -> str:
    """One Markdown table: key, default, (on reload,) meaning."""
    head = ["key", "default"] + (["on reload"] if reload else []) + ["meaning"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for key in keys:
        cells = [f"`{key.name}`", key.shown_default]
        if reload:
            cells.append(_RELOAD[key.reload.applies] if key.reload else "its keys'")
        cells.append(key.help)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def tables() -> dict[str, str]:
    return {name: table(keys, reload) for name, (keys, reload) in TABLES.items()}


def written(readme: str) -> dict[str, str]:
    """The tables as the README has them, by name."""
    return {m.group(2): m.group(3) for m in _BLOCK.finditer(readme)}


def rewritten(readme: str) -> str:
    """The README with each table between markers replaced by the declarations' own."""
    made = tables()
    return _BLOCK.sub(lambda m: m.group(1) + made.get(m.group(2), m.group(3)) + m.group(4), readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotfolder.config.docs",
                                     description="The README's config reference, printed from the key declarations.")
    parser.add_argument("--write", type=Path, metavar="README", help="replace the tables between the markers")
    args = parser.parse_args(argv)
    if args.write is None:
        for name, text in tables().items():
            print(f"<!-- config-keys: {name} -->\n{text}<!-- /config-keys -->\n")
        return 0
    readme = args.write.read_text(encoding="utf-8")
    missing = set(TABLES) - set(written(readme))
    if missing:
        print(f"{args.write}: no markers for {', '.join(sorted(missing))} (<!-- config-keys: NAME --> … "
              "<!-- /config-keys -->)", file=sys.stderr)
        return 1
    args.write.write_text(rewritten(readme), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
