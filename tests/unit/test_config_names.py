"""The config's own text of an output path template, judged as names Windows and macOS clients
open (recipes/config_names.py): warned of, once per template, with what to write instead."""
from __future__ import annotations

import pytest

from hotfolder.recipes import config_names
from hotfolder.recipes.templates import FILENAME_FIELDS, parse


def said(text: str) -> str | None:
    return config_names.unportable(parse(text, FILENAME_FIELDS))


@pytest.mark.parametrize("text", [
    "{stem}_{rendition}.{ext}",  # the default
    "{taken:%Y-%m-%d}/{stem}.{ext}",
    "{taken:%Y/%m/%d}/{stem}_{taken:%H%M%S}.{ext}",  # a date's `/` makes folders
    "{taken:%x}/{stem}.{ext}",  # 12/24/26: folders too
    "{taken}_{stem}.{ext}",  # %Y%m%d-%H%M%S
    "{taken:%H:%M|slug}_{stem}.{ext}",  # the filter takes the `:` out
    "{stem} .{ext}",  # the space ends no part
    "{title}/{stem}.{ext}",  # the photo's texts are made portable when filled in
    "{subdir}/./{stem}.{ext}",  # `.` parts are dropped
    "CON_x/{stem}.{ext}", "con{stem}.{ext}", "{stem}_con.{ext}", "comic/{stem}.{ext}",  # no device's name
    "Mr.{stem}.{ext}",
])
def test_what_every_client_opens_is_not_warned_of(text):
    assert said(text) is None


@pytest.mark.parametrize("text, what, instead", [
    ("{stem}_{taken:%H:%M}.jpg", "{taken:%H:%M} writes ':' into every name (as '14:03')", "{stem}_{taken:%H-%M}.jpg"),
    ("{taken:%c}/{stem}.{ext}", "{taken:%c} writes ':' into every name (as 'Thu Dec 24 14:03:05 2026')",
     "{taken:%a %b %d %H-%M-%S %Y}/{stem}.{ext}"),
    ("{taken:%X}_{stem}.{ext}", "{taken:%X} writes ':'", "{taken:%H-%M-%S}_{stem}.{ext}"),
    ("{taken:%T}_{stem}.{ext}", "{taken:%T} writes ':'", "{taken:%H-%M-%S}_{stem}.{ext}"),
    ("{taken:%R}_{stem}.{ext}", "{taken:%R} writes ':'", "{taken:%H-%M}_{stem}.{ext}"),
    ("{taken:%Z}_{stem}.{ext}", "{taken:%Z} writes ':' into every name (as 'UTC+01:00')", "{taken:%z}_{stem}.{ext}"),
    ("{stem}?.jpg", "the template's text puts '?' into every name", "{stem}_.jpg"),
    ('a<b>|"/{stem}*.{ext}', "puts '<', '>', '|', '\"' and '*' into every name", "a_b___/{stem}_.{ext}"),
    ("{{a:b}}_{stem}.{ext}", "puts ':'", "{{a_b}}_{stem}.{ext}"),
    ("Export./{stem}.{ext}", "'Export.' ends in a dot", "Export/{stem}.{ext}"),
    ("{stem} /web.{ext}", "'{stem} ' ends in a space", "{stem}/web.{ext}"),
    ("{stem}_web.{ext}. ", "'{stem}_web.{ext}. ' ends in a space", "{stem}_web.{ext}"),
    ("con/{stem}.{ext}", "'con' is the name of a Windows device (CON, in any case and with any extension)",
     "con_/{stem}.{ext}"),
    ("Nul.txt/{stem}.{ext}", "'Nul.txt' is the name of a Windows device (NUL", "Nul_.txt/{stem}.{ext}"),
    ("{seq}/LPT1.{ext}", "'LPT1.{ext}' is the name of a Windows device (LPT1", "{seq}/LPT1_.{ext}"),
])
def test_the_config_s_own_text_that_clients_cannot_open_is_warned_of_with_what_to_write(text, what, instead):
    reason = said(text)
    assert reason is not None and what in reason, reason
    assert f"write {instead!r} instead" in reason, reason
    assert said(instead) is None  # what it says to write is not warned of again


def test_one_warning_per_template_says_each_problem_once():
    reason = said("Export./con/{stem}_{taken:%H:%M:%S}?:.{ext}")
    assert reason is not None
    assert reason.count("{taken:%H:%M:%S} writes ':'") == 1 and "puts '?' and ':' into every name" in reason, reason
    assert "'Export.' ends in a dot" in reason and "'con' is the name of a Windows device" in reason, reason
    assert "write 'Export/con_/{stem}_{taken:%H-%M-%S}__.{ext}' instead" in reason, reason


def test_a_date_spec_no_fix_is_known_for_is_told_how_to_write_it():
    reason = said("{stem}_{taken: %H:%M}.{ext}")  # a space before the spec: not rewritten, but said
    assert reason is not None, reason
    assert "write the template without them, in a date's spec '-' for ':' as in %H-%M" in reason, reason


def test_a_part_its_date_ends_in_a_dot_is_said_without_a_template_to_write():
    reason = said("{taken:%Y.}/{stem}.{ext}")
    assert reason is not None and "'{taken:%Y.}' ends in a dot" in reason and "write the template without" in reason


def test_a_manifest_s_template_is_judged_alike():
    assert config_names.unportable(parse("{stem}?.json", {"stem", "name", "folder", "source_ext"})) is not None
    assert config_names.unportable(parse("{stem}.json", {"stem", "name", "folder", "source_ext"})) is None


def test_the_config_s_own_names_in_a_template_are_judged_as_its_text():
    """`{folder}` is the folder's `name:` and `{rendition}` the rendition's: the config's text too,
    kept as written (not made portable), so `name: "Shop: EU"` put a `:` into every name."""
    known = {"folder": "Shop: EU", "rendition": "web"}
    reason = config_names.unportable(parse("{folder}/{stem}_{rendition}.{ext}"), known)
    assert reason is not None and "{folder} writes ':' into every name (as 'Shop: EU')" in reason, reason
    assert "write '{folder|slug}/{stem}_{rendition}.{ext}' instead" in reason, reason
    assert config_names.unportable(parse("{folder|slug}/{stem}.{ext}"), known) is None
    reason = config_names.unportable(parse("{rendition}/{stem}.{ext}"), {"folder": "shop", "rendition": "con"})
    assert reason is not None and "'{rendition}' is the name of a Windows device (CON" in reason, reason
    assert config_names.unportable(parse("{folder}_{stem}.{ext}"), {"folder": "con"}) is None  # `con_x.jpg`
    assert said("{folder}/{stem}.{ext}") is None  # a name not known: a placeholder


def test_what_to_do_when_no_template_is_given_fits_what_was_found():
    """Without a template to write, the advice is of what was found: a dot ending a date's
    folder is no `:` (it was told "in a date's spec '-' for ':'"), and a rendition named `con`
    or `web.` is the config's name, which no date spec fixes: rename it."""
    reason = said("{taken:%Y.}/{stem}.{ext}")
    assert reason is not None and "write the template without them" in reason and "':'" not in reason, reason
    for name, what in (("con", "the name of a Windows device (CON"), ("web.", "ends in a dot")):
        reason = config_names.unportable(parse("{rendition}/{stem}.{ext}"), {"folder": "shop", "rendition": name})
        assert reason is not None and what in reason and "':'" not in reason, reason
        assert f"{{rendition}} is the rendition's name ({name!r}): rename it" in reason, reason
    reason = config_names.unportable(parse("{folder}/{stem}.{ext}"), {"folder": "aux"})
    assert reason is not None and "{folder} is the folder's name ('aux'): write another text in its place" in reason
    reason = said("{stem}_{taken: %H:%M}.{ext}")  # a ':' of a date's spec: told how to write it, as before
    assert reason is not None and "in a date's spec '-' for ':' as in %H-%M" in reason, reason


def test_a_control_character_of_the_template_s_own_text_is_warned_of():
    """A tab or another control character of the literal text (YAML's "\\t" in a double-quoted
    filename) is kept in every name, as a `:` is: no Windows client opens such a name. A
    value's are cleaned when filled in (templates.UNSHOWN): the text alone is said."""
    reason = said("{stem}\t{rendition}.{ext}")
    assert reason is not None and "the template's text puts '\\t' into every name" in reason, reason
    assert "write '{stem}_{rendition}.{ext}' instead" in reason, reason
    assert said("{stem}_{rendition}.{ext}") is None


def test_a_problem_of_two_parts_of_a_name_is_said_once():
    """`name: "../../x"`: two parts of `{folder}/…` end in a dot; the warning said "'{folder}'
    ends in a dot" twice in a row (an admin's afternoon)."""
    reason = config_names.unportable(parse("{folder}/{stem}.{ext}"), {"folder": "../../x"})
    assert reason is not None and reason.count("'{folder}' ends in a dot") == 1, reason
