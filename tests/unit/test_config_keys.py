"""The key declarations (config/sections/) against the model, the README and the reload
rules: a key cannot exist undeclared, undocumented, or with a default of its own."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from hotfolder import config
from hotfolder.config import docs, model
from hotfolder.config.sections import cluster, daemon, folder, http, notify, rendition
from hotfolder.config.sections.steps import STEPS, rights, sharpen, watermark

REPO = Path(__file__).resolve().parents[2]

DECLARED = [
    (daemon.KEYS, model.Config),
    (folder.KEYS, model.Folder),
    (rendition.KEYS, model.Rendition),
    (watermark.MAPPING_KEYS, model.Watermark),
    (sharpen.MAPPING_KEYS, model.Sharpen),
    (rights.FIELD_KEYS, model.SetMetadata),
    (http.KEYS, model.Http),
    (notify.KEYS, model.NotifyTarget),
    (cluster.KEYS, model.Cluster),
]


@pytest.mark.parametrize("keys, cls", DECLARED, ids=[cls.__name__ for _, cls in DECLARED])
def test_every_model_field_has_one_declared_key_and_every_key_a_field(keys, cls):
    filled = [name for key in keys for name in key.model_fields]
    assert len(filled) == len(set(filled)), f"a field of {cls.__name__} is filled by two keys: {filled}"
    assert len({key.name for key in keys}) == len(keys), "a key is declared twice"
    fields = {f.name for f in dataclasses.fields(cls) if not f.metadata.get("derived")}
    assert set(filled) == fields, (f"{cls.__name__}: fields without a key: {sorted(fields - set(filled))}; "
                                   f"keys without a field: {sorted(set(filled) - fields)}")
    for key in keys:
        assert key.help.strip(), f"{cls.__name__}.{key.name} has no help line (the README's meaning)"


EVERY_SECTION = textwrap.dedent("""\
    http: {}
    notify: [{url: "https://hooks.example.com/x"}]
    folders:
      - name: shop
        inbox: in
        output: out
        archive: arch
        failed: bad
        renditions:
          - name: web
            size: 100
            watermark: {text: x}
            sharpen: {}
            set_metadata: {artist: x}
    """)


def test_the_declared_defaults_are_the_models(tmp_path):
    """What a key left out reads as is the dataclass's default: one default, not two."""
    cfg = config.parse(EVERY_SECTION, str(tmp_path / "c.yaml"), tmp_path)
    web = cfg.folders[0].renditions[0]
    built = {model.Config: cfg, model.Folder: cfg.folders[0], model.Rendition: web,
             model.Watermark: web.watermark, model.Sharpen: web.sharpen, model.SetMetadata: web.set_metadata,
             model.Http: cfg.http, model.NotifyTarget: cfg.notify[0], model.Cluster: cfg.cluster}
    given = {"name", "inbox", "output", "archive", "failed", "renditions", "folders", "size", "width", "height",
             "watermark", "sharpen", "set_metadata", "text", "artist", "http", "notify", "url", "state_dir",
             "processing", "duplicates"}  # written above, or a path (made absolute)
    for keys, cls in DECLARED:
        defaults = {f.name: f for f in dataclasses.fields(cls)}
        for key in keys:
            for name in key.model_fields:
                if name in given:
                    continue
                f = defaults[name]
                value = getattr(built[cls], name)
                if f.default is not dataclasses.MISSING:
                    assert value == f.default, f"{cls.__name__}.{name}: read {value!r}, the model says {f.default!r}"
                elif f.default_factory is not dataclasses.MISSING:
                    assert value == f.default_factory(), f"{cls.__name__}.{name}"
                else:  # the model has no default of its own (Sharpen's: the standard preset's)
                    assert value == key.default, f"{cls.__name__}.{name}"
            if len(key.model_fields) == 1 and key.model_fields[0] not in given:
                f = defaults[key.model_fields[0]]
                if f.default is not dataclasses.MISSING:
                    assert key.default == f.default, f"{cls.__name__}.{key.name}: declared {key.default!r}"


def test_only_top_level_and_cluster_keys_carry_reload_rules():
    """The keys of a folder, a rendition, http and notify follow their section's rule."""
    for keys, cls in DECLARED:
        if cls in (model.Config, model.Cluster):
            assert all(k.reload for k in keys if k.name != "cluster"), cls.__name__
        else:
            assert not any(k.reload for k in keys), cls.__name__


def test_the_readme_tables_are_the_declarations():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    written = docs.written(readme)
    assert set(written) == set(docs.TABLES), f"README markers: {sorted(written)}"
    for name, table in docs.tables().items():
        assert written[name] == table, (f"README.md's {name!r} table differs from the declarations in "
                                        f"daemon/hotfolder/config/sections/; run: {docs.COMMAND}")


def test_the_filename_key_names_every_field_and_filter():
    """The table's `filename` row is where a user looks for what a template takes: every
    field and every filter (the item filters |first, |last, |pick were missing from it)."""
    from hotfolder.recipes import filters, templates

    said = next(k for k in rendition.KEYS if k.name == "filename").help
    for field in templates.FILENAME_FIELDS:
        assert f"`{{{field}}}`" in said, field
    for name in filters.FILTERS:
        assert f"`|{name}" in said, name


def test_the_docs_command_prints_and_writes_the_tables(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n\n<!-- config-keys: http -->\nstale table\n<!-- /config-keys -->\n\nafter\n"
                      + "".join(f"<!-- config-keys: {n} -->\n<!-- /config-keys -->\n" for n in docs.TABLES
                                if n != "http"))
    env = {"PYTHONPATH": str(REPO / "daemon"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "hotfolder.config.docs", "--write", str(readme)],
                         capture_output=True, text=True, timeout=60, env=env, check=False)
    assert run.returncode == 0, run.stderr
    text = readme.read_text()
    assert text.startswith("intro\n\n<!-- config-keys: http -->\n| key | default | meaning |")
    assert "stale table" not in text and "\n\nafter\n" in text and "| `listen` | `127.0.0.1:9464` |" in text
    printed = subprocess.run([sys.executable, "-m", "hotfolder.config.docs"], capture_output=True, text=True,
                             timeout=60, env=env, check=True).stdout
    assert "<!-- config-keys: rendition -->\n| key | default | meaning |" in printed


def test_a_rendition_steps_keys_load_no_image_library():
    """A step's keys are declared in a module that needs only the standard library and
    hotfolder.config, so they can live beside the step's engine code: reading a config
    must still load no image library (pyvips, Pillow: 0.25 s) wherever they live."""
    code = ("import sys, hotfolder.config.sections.steps as s, hotfolder.config.parsing; "
            "heavy = {'pyvips', 'PIL', 'pi_heif', 'rawpy', 'numpy'} & set(sys.modules); "
            "assert not heavy, heavy; assert s.STEPS")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert [step.name for step in STEPS] == ["geometry", "encode", "orient", "metadata", "colour", "rights",
                                             "sharpen", "smartcrop", "watermark"]


# --- issue 26.4: one source of defaults for the shipped configs ---------------------------

SHIPPED = [REPO / "config" / "hotfolder.yaml", REPO / "config" / "hotfolder.system.yaml"]


def test_the_installed_config_accepts_what_the_readme_lists():
    """The system config (what install.sh puts in place) said accepted_formats: [jpeg,
    png, webp, tiff] while the README said HEIC and RAW are accepted by default."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    row = re.search(r"^\| `accepted_formats` \| `\[([^\]]*)\]` \|", readme, re.M)
    assert row, "the README's top-level table has no accepted_formats row"
    listed = {name.strip() for name in row.group(1).split(",")}
    assert {"heic", "raw"} <= listed
    for path in SHIPPED:
        accepted = set(config.load(path).accepted_formats)
        assert listed <= accepted, f"{path.name} does not accept {sorted(listed - accepted)}, which the README lists"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_shipped_configs_restate_no_top_level_default(path):
    """A top-level key a shipped config writes is a decision of its own: one it left as
    the default would go on saying the old default after the declaration changes (the
    defaults are shown there as comments)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    shipped = config.load(path)
    for key in data:
        if key == "folders":
            continue
        without = yaml.safe_dump({k: v for k, v in data.items() if k != key})
        default = config.parse(without, str(path), path.parent)
        assert getattr(shipped, key) != getattr(default, key), f"{path.name} restates the default of {key}"
