"""The duplicate keys of a folder (issue 23): their defaults, a length of time, where the
duplicates folder may lie, the notify events."""
from __future__ import annotations

import pytest

from hotfolder.config import model, parse

FOLDER = """
folders:
  - name: {name}
    inbox: {root}/{name}/inbox
    output: {root}/{name}/output
    archive: {root}/{name}/archive
    failed: {failed}
    renditions: [{{name: web, size: 100}}]
{extra}"""


def _config(tmp_path, *folders: dict, top: str = ""):
    text = top + "".join(FOLDER.format(root=tmp_path, **f).replace("folders:\n", "", i > 0)
                         for i, f in enumerate(folders))
    return parse(text, str(tmp_path / "c.yaml"), tmp_path)


def _folder(name: str, failed: str, extra: str = "") -> dict:
    return {"name": name, "failed": failed, "extra": extra}


def test_the_defaults(tmp_path):
    cfg = _config(tmp_path, _folder("a", f"{tmp_path}/a/failed"))
    f = cfg.folders[0]
    assert (f.on_duplicate, f.duplicate_scope, f.similar, f.similar_distance) == ("skip", "auto", "flag", 6)
    assert f.duplicate_window == 365 * 86400
    assert f.duplicates == tmp_path / "a" / "duplicates"  # beside failed/
    assert f.index_dir == cfg.state_dir  # the index lives in state_dir's database


def test_folders_whose_failed_share_a_parent_get_a_duplicates_folder_each(tmp_path):
    cfg = _config(tmp_path, _folder("a", f"{tmp_path}/failed-a"), _folder("b", f"{tmp_path}/failed-b"))
    assert [f.duplicates.name for f in cfg.folders] == ["duplicates-a", "duplicates-b"]


@pytest.mark.parametrize(("written", "seconds"), [("365d", 365 * 86400), ("12w", 12 * 7 * 86400), ("36h", 36 * 3600),
                                                  ("90m", 5400), ("30s", 30), ("172800", 172800), (86400, 86400)])
def test_a_window_is_a_length_of_time(tmp_path, written, seconds):
    f = _config(tmp_path, _folder("a", f"{tmp_path}/a/failed", f"    duplicate_window: {written}")).folders[0]
    assert f.duplicate_window == seconds


def test_a_wrong_window_or_choice_names_the_key_and_what_to_write(tmp_path):
    with pytest.raises(model.ConfigError) as err:
        _config(tmp_path, _folder("a", f"{tmp_path}/a/failed", "    duplicate_window: a year\n    similar: maybe"))
    keys = {p.key: p.reason for p in err.value.problems}
    assert "365d" in keys["folders[a].duplicate_window"]
    assert "flag" in keys["folders[a].similar"]


def test_nothing_may_overlap_a_duplicates_folder(tmp_path):
    with pytest.raises(model.ConfigError) as err:
        _config(tmp_path, _folder("a", f"{tmp_path}/a/failed", f"    duplicates: {tmp_path}/a/output/dupes"))
    assert err.value.key == "folders[a].duplicates" and "inside the output" in err.value.reason


def test_a_failed_folder_in_the_wrong_place_is_one_problem_not_two(tmp_path):
    """Its default duplicates folder beside it would lie there too: said once, at failed."""
    with pytest.raises(model.ConfigError) as err:
        _config(tmp_path, _folder("a", f"{tmp_path}/a/failed"), _folder("b", f"{tmp_path}/a/inbox/b-failed"))
    assert [p.key for p in err.value.problems] == ["folders[b].failed"]


@pytest.mark.parametrize("archive", ["duplicates", "duplicates/2026"])
def test_a_default_duplicates_folder_on_a_place_of_an_older_config_says_it_was_not_set_and_what_to_write(
        tmp_path, archive):
    """A config from before the duplicates folder (e3d8d79) whose archive is `x/duplicates` (or
    lies in it): its default beside failed/ is refused as overlapping the archive,
    and the line named a key the admin never wrote ("folders[a].duplicates: is the same folder
    as archive ...; each must differ"). It says the key was not set, its default, and what to write."""
    text = FOLDER.format(root=tmp_path, name="a", failed=f"{tmp_path}/a/failed", extra="").replace(
        f"archive: {tmp_path}/a/archive", f"archive: {tmp_path}/a/{archive}")
    with pytest.raises(model.ConfigError) as err:
        parse(text, str(tmp_path / "c.yaml"), tmp_path)
    [problem] = err.value.problems
    assert (f"; the duplicates folder is {tmp_path}/a/duplicates, its default beside failed/ when `duplicates:` is "
            f"not set: add `duplicates: {tmp_path}/a/failed-duplicates` to folder a, or another folder of its own"
            ) in problem.reason, problem.reason


def test_the_notify_events(tmp_path):
    cfg = _config(tmp_path, _folder("a", f"{tmp_path}/a/failed"),
                  top="notify: [{url: 'https://example.com/hook', events: [duplicate, similar, failed]}]\n")
    assert cfg.notify[0].events == ("duplicate", "similar", "failed")


def test_a_bare_off_is_similar_off_and_a_bare_no_elsewhere_says_yaml_read_it_as_false(tmp_path):
    """YAML reads a bare `off` as false: `similar: off`, the README's own word, was refused as
    "must be a non-empty text, not the boolean false" (a review)."""
    cfg = _config(tmp_path, _folder("a", f"{tmp_path}/a/failed", "    similar: off\n"))
    assert cfg.folders[0].similar == model.Similar.OFF
    with pytest.raises(model.ConfigError) as err:
        _config(tmp_path, _folder("a", f"{tmp_path}/a/failed", "    on_duplicate: no\n"))
    assert ("folders[a].on_duplicate: must be one of: skip, process, fail, not false: write one of them (YAML reads "
            "a bare yes, no, on or off as true or false)") in str(err.value)


@pytest.mark.parametrize("scope, when, rel, within", [
    ("auto", None, "clients/bob/a.jpg", None),  # no rendition names a subfolder: the whole folder
    ("auto", '{subfolder: "clients/*"}', "clients/bob/a.jpg", "clients/bob"),  # a delivery of its own
    # A folder no condition names is not one: a card copied to card2/ is card1/'s duplicate
    # (a review: one `subfolder:` anywhere had made every subfolder a scope of its own).
    ("auto", '{subfolder: "clients/*"}', "card2/a.jpg", None),
    ("auto", '{subfolder: "clients/*"}', "a.jpg", None),
    ("auto", '{subfolder: ["", "print/**"]}', "a.jpg", ""),  # the top, named
    ("auto", '{any: [{name: "*.png"}, {subfolder: "print/**"}]}', "print/a4/a.jpg", "print/a4"),
    ("auto", '{not: {subfolder: "print/**"}}', "x/y/a.jpg", None),  # what a `not:` names is left out
    ("auto", '{camera: "Canon*"}', "clients/bob/a.jpg", None),
    ("subfolder", None, "card2/a.jpg", "card2"),
    ("folder", '{subfolder: "clients/*"}', "clients/bob/a.jpg", None),
    ("all", '{subfolder: "clients/*"}', "clients/bob/a.jpg", None),
])
def test_where_an_earlier_original_counts(tmp_path, scope, when, rel, within):
    from hotfolder.workers.duplicates import subfolder_scope

    text = FOLDER.format(root=tmp_path, name="a", failed=f"{tmp_path}/a/failed", extra="")
    if when:
        chosen = f"{{name: c, size: 50, when: {when}}}"
        text = text.replace("[{name: web, size: 100}]", f"[{{name: web, size: 100}}, {chosen}]")
    text = text.replace("    renditions:", f"    duplicate_scope: {scope}\n    renditions:")
    folder = parse(text, str(tmp_path / "c.yaml"), tmp_path).folders[0]
    assert subfolder_scope(folder, rel) == within
