"""`when:` (recipes/conditions.py, config/sections/when.py): parsed with every problem at its
line, evaluated by one pure function that says which entry excluded a file and why."""
from __future__ import annotations

import datetime as dt
import textwrap
import time

import pytest

from hotfolder import config
from hotfolder.config.model import ConfigError
from hotfolder.recipes import conditions as c
from hotfolder.recipes.conditions import evaluate, path_matches
from hotfolder.recipes.facts import Facts, Need, Photo
from hotfolder.recipes.select import folder_need, select

PHOTO = Photo(format="raw", width=4000, height=6000, make="Canon", model="Canon EOS R5", lens="RF50mm F1.2 L USM",
              iso=400, taken=dt.datetime(2024, 5, 1, 14, 3), rating=4, keywords=("Portfolio", "beach"),
              exif=(("LensModel", "RF50mm F1.2 L USM"), ("FNumber", "1.2")))
FACTS = Facts("IMG_0001.CR3", "clients/acme", "studio", PHOTO)


@pytest.mark.parametrize("pattern, path, matches", [
    ("clients/**", "clients", True), ("clients/**", "clients/acme/2024", True), ("clients/**", "client", False),
    ("products/*", "products/shoes", True), ("products/*", "products", False), ("products/*", "products/a/b", False),
    ("**", "", True), ("**/raw", "a/b/raw", True), ("**/raw", "raw", True), ("CLIENTS/*", "clients/x", True),
    ("", "", True), ("", "x", False), ("p[0-9]", "p7", True), ("p[!0-9]", "p7", False),
    # A whole part `*` is one folder, never none: "*" matched the inbox's top too (a review).
    ("*", "", False), ("*", "products", True), ("*", "a/b", False), ("*/raw", "raw", False), ("a*", "a", True),
])
def test_subfolder_globs(pattern, path, matches):
    assert path_matches(pattern, path) is matches


@pytest.mark.parametrize("tag, value, glob, holds", [
    ("FNumber", "4", "4.0", True), ("FNumber", "4", "f/4", True), ("FNumber", "2.8", "2.80", True),
    ("FocalLength", "50", "50 mm", True), ("FocalLength", "50", "50.0mm", True), ("FocalLength", "50", "55", False),
    ("ExposureTime", "1/250", "0.004", True), ("ExposureTime", "1/250", "1/250 s", True),
    ("ExposureTime", "1/250", "1/200", False), ("FNumber", "4", "4*", True), ("FNumber", "4.5", "4*", True),
    ("FNumber", "4", "4.?", False), ("LensModel", "RF50mm", "50", False), ("FNumber", "4", "", False),
    # Signs, and the rounding exiftool and the stored text show (a review):
    ("ExposureBiasValue", "-0.666667", "-2/3", True), ("ExposureBiasValue", "1/3", "+1/3 EV", True),
    ("ExposureBiasValue", "-0.666667", "2/3", False), ("ExposureBiasValue", "0.666667", "2/3", True),
    ("ExposureTime", "1/3", "0.3", True), ("ExposureTime", "0.0333", "1/30", True),
    ("ExposureTime", "1/3", "0.4", False), ("FocalLength", "50.4", "50", False), ("FNumber", "4.5", "4.0", False),
])
def test_an_exif_value_written_the_way_exiftool_prints_it_matches_as_a_number(tag, value, glob, holds):
    """`FNumber: 4.0` (YAML's float, exiftool's print) never held for f/4, nor `50 mm` for a
    50 mm focal length (a review); a glob with `*` or `?` stays a glob on the text."""
    facts = Facts("a.jpg", "", "f", Photo(exif=((tag, value),)))
    assert c.ExifTag(tag, (glob,)).check(facts)[0] is holds


@pytest.mark.parametrize("value", ["f/" + " " * 60_000 + "x", "4" + " " * 60_000 + "x", " " * 60_000 + "4 x",
                                   "1" + " " * 30_000 + "/" + " " * 30_000 + "x"])
def test_a_hostile_exif_value_is_judged_in_time_linear_in_its_length(value):
    """Spaces between `f/`, the sign and the number were split every way (`\\s*` side by side):
    60,000 of them took 43 s in `explain`, a worker's whole timeout in the daemon (an
    attack round). The reason shows the value cut short."""
    facts = Facts("a.jpg", "", "f", Photo(exif=(("LensModel", value),)))
    started = time.process_time()
    held, said = c.ExifTag("LensModel", ("50",)).check(facts)
    assert time.process_time() - started < 0.5 and not held  # tens of seconds before the fix
    assert len(said) < 250 and f"… ({len(value)} characters)" in said


def test_decomposed_and_composed_accents_match_alike():
    """A folder or keyword a Mac or rsync wrote decomposed (NFD) never matched a config's
    composed `café` (an attack round)."""
    import unicodedata

    nfd, nfc = unicodedata.normalize("NFD", "café"), "café"
    assert nfd != nfc
    assert path_matches(f"{nfc}/**", f"{nfd}/2024") and path_matches(f"{nfd}/*", f"{nfc}/x")
    assert c.Keywords((nfc,)).check(Facts("a.jpg", "", "f", Photo(keywords=(nfd,))))[0]


@pytest.mark.parametrize("entry, holds, said", [
    (c.Subfolder(("clients/**",)), True, "its subfolder clients/acme matches clients/**"),
    (c.Subfolder(("products/*",)), False, "does not match products/*"),
    (c.Subfolder(("",)), False, 'its subfolder clients/acme does not match ""'),  # not "match " (a new user)
    (c.Subfolder(("", "products/*")), False, 'does not match "", products/*'),
    (c.Name(("*.cr3",)), True, "matches *.cr3"),
    (c.Format(("jpeg", "heic")), False, "it is raw, not one of jpeg, heic"),
    (c.Orientation(("portrait",)), True, "portrait (4000x6000 upright)"),
    (c.Orientation(("landscape", "square")), False, "not landscape or square"),
    (c.Bound("min_width", 4000), True, "at least 4000"),
    (c.Bound("max_height", 5000), False, "its height is 6000 px upright, not at most 5000"),
    (c.Camera(("Canon EOS R*",)), True, "its camera Canon EOS R5 matches"),
    (c.Camera(("*nikon*",)), False, "does not match *nikon*"),
    (c.ExifTag("LensModel", ("*50mm*",)), True, "matches *50mm*"),
    (c.ExifTag("FocalLength", ("50",)), False, "its EXIF has no FocalLength"),
    (c.Keywords(("portfolio",)), True, "it has the keyword Portfolio"),
    (c.Keywords(("wedding", "client-*")), False, "none is wedding or client-*"),
    (c.Rating(">=", 4), True, "its rating is 4, >= 4"),
    (c.Rating("==", 5), False, "its rating is 4, not == 5"),
])
def test_each_entry_says_what_it_found(entry, holds, said):
    outcome = evaluate(c.When((entry,)), FACTS)
    assert outcome.holds is holds and said in outcome.why
    assert outcome.key == entry.key


def test_the_first_entry_that_does_not_hold_is_the_one_named():
    when = c.When((c.Subfolder(("clients/**",)), c.Orientation(("landscape",)), c.Rating(">=", 5)))
    outcome = evaluate(when, FACTS)
    assert (outcome.holds, outcome.key) == (False, "orientation")


def test_any_and_not_nest_and_say_why():
    any_of = c.AnyOf((c.When((c.Keywords(("wedding",)),)), c.When((c.Rating(">=", 5),))))
    outcome = evaluate(c.When((any_of,)), FACTS)
    assert not outcome.holds and "none of them holds (keywords:" in outcome.why and "rating:" in outcome.why
    negated = evaluate(c.When((c.Not(c.When((c.Camera(("Canon*",)),))),)), FACTS)
    assert not negated.holds and negated.key == "not" and "it holds: its camera Canon EOS R5" in negated.why
    assert evaluate(c.When((c.Not(c.When((c.Rating("<", 2),))),)), FACTS).holds


def test_an_unrated_photo_counts_as_zero_and_unknown_facts_do_not_hold():
    bare = Facts("a.jpg")
    assert evaluate(c.When((c.Rating("<=", 1),)), bare).holds
    assert not evaluate(c.When((c.Camera(("*",)),)), bare).holds
    assert not evaluate(c.When((c.Orientation(("portrait",)),)), bare).holds


def test_what_each_entry_reads():
    when = c.When((c.Subfolder(("x",)), c.Name(("*",)), c.AnyOf((c.When((c.Rating(">", 1),)),)),
                   c.Not(c.When((c.ExifTag("FNumber", ("1.4",)),)))))
    assert when.need() == Need(xmp=True, exif_tags=frozenset({"FNumber"}))
    assert c.When((c.Bound("min_width", 10),)).need() == Need(header=True)


STUDIO = textwrap.dedent("""\
    folders:
      - name: studio
        inbox: in
        output: out
        archive: arch
        failed: bad
        renditions:
          - name: client
            size: {long: 2048}
            filename: "{taken:%Y/%m}/{camera|slug}_{stem}_{rendition}.{ext}"
            when:
              subfolder: "clients/**"
          - name: square
            operation: fill
            size: 1080x1080
            when:
              orientation: portrait
              not: {subfolder: "clients/**"}
          - name: series
            size: 1600
            filename: "portfolio/{seq:04}_{stem}.{ext}"
            when:
              any:
                - keywords: portfolio
                - rating: ">= 5"
              exif: {LensModel: "*50mm*", FNumber: 1.2}
    """)


HEAD = STUDIO.split("      - name: client")[0]
# For folders of conditional renditions only: saying what becomes of a file none takes
# silences check-config's warning of it (folder.py, _all_conditional).
ARCHIVING_HEAD = HEAD.replace("    renditions:", "    on_no_rendition: archive\n    renditions:", 1)


@pytest.mark.parametrize("globs, warned", [
    ('"*"', True), ('"**/*"', True), ('"*/**"', True), ('["*", ""]', False), ('"**"', False), ('"*/*"', False),
    ('"clients/*"', False),
])
def test_a_subfolder_glob_that_no_longer_takes_the_top_is_warned_of(tmp_path, globs, warned):
    """`*`, `**/*` and `*/**` took the inbox's top before a whole `*` became one folder: a
    config that meant "every file" would archive top-level drops unrendered, in silence (a
    review)."""
    text = ARCHIVING_HEAD + textwrap.indent(f"- name: any\n  size: 800\n  when: {{subfolder: {globs}}}\n", "      ")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    said = [str(w) for w in config.check(path).warnings]
    assert bool(said) is warned, said
    if warned:
        assert "takes every subfolder but not the inbox's top" in said[0] and 'add "" to the list' in said[0]


@pytest.mark.parametrize("extra, warned", [
    ("", True), ("- {name: any, size: 400}\n", False), ("", False)])
def test_a_folder_of_conditional_renditions_only_is_warned_of_unless_it_says_what_becomes_of_the_rest(
        tmp_path, extra, warned):
    """Every rendition with a `when:`: a file none takes is archived unrendered, which a shop
    admin learnt only from `process` making nothing. A rendition without `when:`, or
    `on_no_rendition` written (the repository's studio.yaml does), says it is known."""
    head = HEAD if warned or extra else ARCHIVING_HEAD
    text = head + textwrap.indent("- {name: tall, size: 800, when: {orientation: portrait}}\n" + extra, "      ")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    said = [str(w) for w in config.check(path).warnings]
    if warned:
        assert len(said) == 1 and ":7:5: folders[studio].renditions: every rendition has a `when:`: a file none of " \
            "them takes is archived with nothing rendered" in said[0], said
        assert "on_no_rendition: fail" in said[0]
    else:
        assert said == []


@pytest.mark.parametrize("globs", ['"*"', '["*", "clients/**"]', '"**/*"'])
def test_keep_subfolders_takes_every_folder_without_the_top_s_warning(tmp_path, globs):
    """`keep_subfolders: ["*"]` was warned of with `when: subfolder:`'s words ("add \"\" for
    files dropped at the top"): it names folders to keep, and the inbox itself is never
    removed (a shop admin's report)."""
    text = HEAD.replace("    renditions:", f"    keep_subfolders: {globs}\n    renditions:", 1)
    text += "      - {name: web, size: 800}\n"
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert "keep_subfolders" in text
    assert [str(w) for w in config.check(path).warnings] == []


@pytest.mark.parametrize("key, said", [
    ("Model", 'Model is an EXIF tag, not a condition: write `camera: "Canon EOS*"` (globs on make and model, the '
              'make once), or `exif: {Model: "…"}`'),
    ("make", "make is an EXIF tag, not a condition: write `camera:"),
    ("LensModel", 'LensModel is an EXIF tag, not a condition: write `exif: {LensModel: "…"}`'),
    ("lens", 'lens is an EXIF tag, not a condition: write `exif: {LensModel: "…"}`'),
])
def test_an_exif_tag_written_as_a_condition_is_pointed_at_camera_or_exif(tmp_path, key, said):
    """`when: {Model: "iPhone*"}` was "unknown key" with the list of conditions (a shop admin's
    report): neither `camera:` nor `exif:` was named."""
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + textwrap.indent(f'- name: x\n  size: 800\n  when: {{{key}: "x*"}}\n', "      "))
    with pytest.raises(config.ConfigError) as err:
        config.check(path)
    assert f"when.{key}: not a key here: {said}" in str(err.value), str(err.value)


@pytest.mark.parametrize("when, at", [
    ('{subfolder: "in/shoes/**"}', "when.subfolder"), ('{any: [{subfolder: ["x", "/IN/shoes"]}]}', "when.any[0]"),
    ('{not: {subfolder: "in/*"}}', "when.not.subfolder")])
def test_a_subfolder_glob_that_starts_with_the_inbox_s_name_is_warned_of(tmp_path, when, at):
    """`subfolder: "inbox/shoes/**"` never matched: globs are written from inside the inbox (a
    shop admin's report). The inbox of STUDIO is `in`."""
    text = ARCHIVING_HEAD.replace("    renditions:", '    keep_subfolders: ["in/clients/*"]\n    renditions:')
    path = tmp_path / "c.yaml"
    path.write_text(text + textwrap.indent(f"- name: x\n  size: 800\n  when: {when}\n", "      "))
    said = [str(w) for w in config.check(path).warnings]
    assert len(said) == 2, said
    assert "folders[studio].keep_subfolders: 'in/clients/*' starts with 'in', the inbox's own name: a subfolder " \
           "glob is written from inside the inbox, so this one takes only a folder in/ in it; write 'clients/*'" \
           in said[0], said
    assert f"folders[studio].renditions[x].{at}" in said[1] and "the inbox's own name" in said[1], said
    path.write_text(ARCHIVING_HEAD + textwrap.indent('- {name: x, size: 8, when: {subfolder: ["in", "inx/*"]}}\n',
                                                     "      "))
    assert not config.check(path).warnings  # a folder named as the inbox is a glob like any other


def test_a_glob_that_cannot_be_read_is_a_config_error_and_under_not_no_warning(tmp_path):
    """`[z-a]` was a traceback of check-config (a review); under `not:`, "*" now keeps the
    top-level files, which is what was meant: no warning."""
    for when, said in (('{subfolder: "[z-a]"}', "when.subfolder: '[z-a]' is not a glob that can be read"),
                       ('{subfolder: ["x", "a[!]b]"]}', "when.subfolder: 'a[!]b]' is not a glob that can be read")):
        path = tmp_path / "c.yaml"
        path.write_text(HEAD + textwrap.indent(f"- name: x\n  size: 800\n  when: {when}\n", "      "))
        with pytest.raises(config.ConfigError) as err:
            config.check(path)
        assert said in str(err.value), str(err.value)
    path.write_text(ARCHIVING_HEAD + textwrap.indent('- name: x\n  size: 800\n  when: {not: {subfolder: "*"}}\n',
                                                     "      "))
    assert not config.check(path).warnings


def test_an_empty_subfolder_glob_is_the_inbox_s_top_as_the_readme_says(tmp_path):
    """`subfolder: ""` was refused as "not the text ''" though documented (a review)."""
    text = HEAD + textwrap.indent(textwrap.dedent("""\
        - name: top
          size: 800
          when: {subfolder: ""}
        - name: listed
          size: 600
          when: {subfolder: ["", "clients/**"]}
        """), "      ")
    folder = config.parse(text, str(tmp_path / "c.yaml"), tmp_path).folders[0]
    at_top = select(folder.renditions, Facts("b.jpg", "", "studio", PHOTO))
    below = select(folder.renditions, Facts("b.jpg", "products", "studio", PHOTO))
    assert [r.name for r in at_top.chosen] == ["top", "listed"] and below.chosen == ()
    assert [r.name for r in select(folder.renditions, FACTS).chosen] == ["listed"]


def test_a_studio_recipe_is_read_and_selects_by_the_photo(tmp_path):
    folder = config.parse(STUDIO, str(tmp_path / "c.yaml"), tmp_path).folders[0]
    chosen = select(folder.renditions, FACTS)
    assert [r.name for r in chosen.chosen] == ["client", "series"]
    (square, outcome), = chosen.excluded
    assert square.name == "square" and outcome.key == "not" and "clients/**" in outcome.why
    need = folder_need(folder)
    assert need.header and need.xmp and need.exif and need.mtime and need.seq and not need.hash
    assert need.exif_tags == {"LensModel", "FNumber"}
    elsewhere = select(folder.renditions, Facts("b.jpg", "", "studio", PHOTO))
    assert [r.name for r in elsewhere.chosen] == ["square", "series"]


def test_a_folder_without_conditions_or_photo_fields_reads_nothing(tmp_path):
    plain = HEAD + "      - {name: web, size: 100}\n"
    folder = config.parse(plain, str(tmp_path / "c.yaml"), tmp_path).folders[0]
    assert folder_need(folder) == Need() and not folder_need(folder).reads_file


def problems(tmp_path, when: str) -> list[str]:
    text = HEAD + "      - name: web\n        size: 100\n" + textwrap.indent(textwrap.dedent(when), "        ")
    with pytest.raises(ConfigError) as exc:
        config.parse(text, str(tmp_path / "c.yaml"), tmp_path)
    return exc.value.lines()


def test_every_problem_of_a_when_is_named_at_its_line(tmp_path):
    lines = problems(tmp_path, """\
        when:
          subfolders: "clients/**"
          orientation: sideways
          format: [jpeg2000, heic]
          rating: "about 4"
          exif: {LensModl: "*50*"}
          min_width: 4000
          max_width: 2000
          any: {keywords: x}
          not: {camra: Canon}
    """)
    key = "folders[studio].renditions[web].when"
    want = [
        (11, f"{key}.subfolders: unknown key (did you mean 'subfolder'?"),
        (12, f"{key}.orientation: 'sideways' is not one of: portrait, landscape, square"),
        (13, f"{key}.format: 'jpeg2000' is not one of: jpeg, png, webp, tiff, gif, bmp, avif, heic, raw (did you mean "
             "'jpeg'?)"),
        (14, f"{key}.rating: must be a rating from -1 (rejected) to 5"),
        (15, f"{key}.exif.LensModl: unknown EXIF tag (did you mean 'LensModel'?)"),
        (16, f"{key}.min_width: is 4000, above max_width (2000)"),
        (18, f"{key}.any: must be a non-empty list of mappings"),
        (19, f"{key}.not.camra: unknown key (did you mean 'camera'?"),
    ]
    assert len(lines) == len(want), "\n".join(lines)
    for line, (number, text) in zip(lines, want, strict=True):
        assert f":{number}:" in line and text in line, (line, number, text)


def test_an_unknown_exif_tag_is_told_every_name_known(tmp_path):
    """A new user's finding: the message sent them to a list the README did not have, and
    `Aperture` (exiftool's name for the photo's f-number) suggested MaxApertureValue."""
    (line,) = problems(tmp_path, 'when: {exif: {Apperture: "2.8"}}\n')
    assert "unknown EXIF tag (did you mean 'Aperture' (FNumber)?)" in line, line
    assert "MaxApertureValue, MeteringMode" in line and "ShutterSpeed (ExposureTime)" in line, line
    when = config.parse(HEAD + '      - {name: w, size: 100, when: {exif: {Aperture: "2.8", ShutterSpeed: "1/250"}}}\n',
                        str(tmp_path / "c.yaml"), tmp_path).folders[0].renditions[0].when
    assert when.need().exif_tags == {"FNumber", "ExposureTime"}


@pytest.mark.parametrize("glob", ["./clients/**", "../clients/**", "clients/./x"])
def test_a_subfolder_glob_with_a_dot_part_is_refused(tmp_path, glob):
    """`./clients/**` passed check-config and never matched a file (an attack round)."""
    (line,) = problems(tmp_path, f'when: {{subfolder: "{glob}"}}\n')
    assert "has a . or .. part, which no subfolder has" in line, line


def test_an_empty_when_says_what_it_takes(tmp_path):
    (line,) = problems(tmp_path, "when: {}\n")
    assert "when: needs at least one condition: subfolder, name, format" in line


def test_sizes_as_photographers_give_them(tmp_path):
    base = HEAD
    for size, expected in [("{long: 2048}", (None, None, 2048, None, None)),
                           ("{short: 1080}", (None, None, None, 1080, None)),
                           ("{megapixels: 2}", (None, None, None, None, 2.0))]:
        folder = config.parse(base + f"      - {{name: w, size: {size}}}\n", str(tmp_path / "c.yaml"),
                              tmp_path).folders[0]
        r = folder.renditions[0]
        assert (r.width, r.height, r.long, r.short, r.megapixels) == expected
    for size, said in [("{long: 2048, short: 10}", "takes one of long, short, megapixels"),
                       ("{longest: 10}", "takes one of long, short, megapixels"),
                       ("{megapixels: 0}", "megapixels must be a number from 0.01")]:
        with pytest.raises(ConfigError, match=said):
            config.parse(base + f"      - {{name: w, size: {size}}}\n", str(tmp_path / "c.yaml"), tmp_path)
    with pytest.raises(ConfigError, match="fit a box only with operation fit; needs both width and height "
                                          "for operation pad"):
        config.parse(base + "      - {name: w, operation: pad, size: {long: 10}}\n", str(tmp_path / "c.yaml"),
                     tmp_path)


def test_a_news_desk_routes_by_credit_line_and_byline(tmp_path):
    # A picture desk's audit: AFP's photos to one rendition, staff photographers' to another,
    # had no condition to say it: keywords and camera only. `credit:` and `artist:` are globs
    # on the credit line and the byline, read as `{credit}` and `{artist}` are (XMP, IIM, EXIF).
    folder = config.parse(HEAD + textwrap.indent(textwrap.dedent("""\
        - {name: afp, size: 100, when: {credit: "*AFP*"}}
        - {name: staff, size: 100, when: {artist: ["*/Staff", "Łukasz*"]}}
        """), "      "), str(tmp_path / "c.yaml"), tmp_path).folders[0]
    afp, staff = (r.when for r in folder.renditions)
    wire = Facts("a.jpg", "", "f", Photo(credit="© AFP", artist="Anna Nowak/AFP"))
    assert evaluate(afp, wire).holds and not evaluate(staff, wire).holds
    assert "its byline Anna Nowak/AFP does not match" in evaluate(staff, wire).why
    ours = Facts("b.jpg", "", "f", Photo(artist="Łukasz Żółć"))
    assert evaluate(staff, ours).holds and evaluate(afp, ours).why == "it has no credit line"
    assert folder_need(folder).xmp
