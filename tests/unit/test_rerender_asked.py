"""cli/asked.renditions_asked: a --rendition name no folder to render has is told with the
closest one, whatever its case."""
from __future__ import annotations

from pathlib import Path

from hotfolder.cli.asked import renditions_asked
from hotfolder.config.parsing import parse

CONFIG = """\
state_dir: state
folders:
  - name: studio
    inbox: inbox
    output: output
    archive: archive
    failed: failed
    renditions:
      - {name: web, size: 100, format: jpeg}
      - {name: Instagram, size: 108, format: jpeg}
"""


def test_a_name_in_another_case_is_told_as_the_config_spells_it(tmp_path: Path):
    cfg = parse(CONFIG, base=tmp_path)
    said = renditions_asked(cfg, list(cfg.folders), ["WEB"], None)
    assert isinstance(said, str) and said.endswith("did you mean 'web'?"), said
    said = renditions_asked(cfg, list(cfg.folders), ["instagram"], None)
    assert isinstance(said, str) and said.endswith("did you mean 'Instagram'?"), said
    assert renditions_asked(cfg, list(cfg.folders), ["web", "Instagram"], None) == {"studio": ("web", "Instagram")}
