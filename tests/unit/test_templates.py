"""The one template engine (recipes/templates.py): parsing with every mistake named, filling
in, the filters, and values that never leave the output folder."""
from __future__ import annotations

import datetime as dt

import pytest

from hotfolder.recipes import filters, templates
from hotfolder.recipes.templates import FILENAME_FIELDS, METADATA_FIELDS, TemplateError, fill, parse

TAKEN = dt.datetime(2024, 5, 1, 14, 3, 22, tzinfo=dt.timezone(dt.timedelta(hours=2)))
VALUES = {"stem": "IMG_0001", "name": "IMG_0001.CR3", "ext": "jpg", "rendition": "web", "source_ext": "cr3",
          "camera": "Canon EOS R5", "taken": TAKEN, "seq": 42, "hash": "ab12cd34" + "0" * 56, "lens": None,
          "subdir": "clients/acme", "rating": 4, "width": 1600, "height": 1067}


def path(text: str, values=VALUES) -> str:
    return fill(parse(text), values, as_path=True)


@pytest.mark.parametrize("text, expected", [
    ("{stem}_{rendition}.{ext}", "IMG_0001_web.jpg"),
    ("{taken:%Y/%m}/{camera|slug}_{stem}.{ext}", "2024/05/canon-eos-r5_IMG_0001.jpg"),
    ("{seq:04}_{stem}.{ext}", "0042_IMG_0001.jpg"),
    ("{hash:8}.{ext}", "ab12cd34.jpg"),
    ("{lens|default(no lens)|slug}/{stem}.{ext}", "no-lens/IMG_0001.jpg"),
    ("{lens}{stem}.{ext}", "IMG_0001.jpg"),  # a missing value is empty
    ("{stem|lower}_{width}x{height}.{ext}", "img_0001_1600x1067.jpg"),
    ("{subdir}/{stem}.{ext}", "clients/acme/IMG_0001.jpg"),
    ("{{literal}}_{stem}.{ext}", "{literal}_IMG_0001.jpg"),
    ("{taken}_{stem}.{ext}", "20240501-140322_IMG_0001.jpg"),
    ("r{rating}_{ camera | upper }_{stem}.{ext}", "r4_CANON EOS R5_IMG_0001.jpg"),
])
def test_filling_in(text, expected):
    assert path(text) == expected


@pytest.mark.parametrize("value, expected", [
    ("../../etc", "_._.._etc"),  # a `/` inside a value is `_`, a leading `.` too: never a way out
    ("/etc/passwd", "_etc_passwd"),
    ("..x", "_.x"),  # a part that would start with `.` (hidden) starts with `_`
    (".hidden", "_hidden"),
    ("a\x00b\nc", "a_b_c"),
    ("\u202egpj.exe", "_gpj.exe"),  # shown reversed, as `exe.jpg` (an attack round's)
    ("a\u200bb\x9bc\ufeff", "a_b_c_"),  # zero-width, C1, byte-order mark
    ("A\u061cB\U000e0041C\u206aD\xadE", "A_B_C_D_E"),  # a bidi mark, a tag character, a format control, a soft hyphen
    ("a\u2028b\u2029c", "a_b_c"),  # the Unicode line and paragraph separators break a line as \n does
])
def test_a_hostile_value_never_leaves_the_output_folder(value, expected):
    out = path("{camera}/{stem}.{ext}", {**VALUES, "camera": value})
    assert out == f"{expected}/IMG_0001.jpg"
    assert not out.startswith("/") and ".." not in out.split("/")


def test_a_hostile_subdir_part_and_a_default_with_a_slash_stay_inside():
    assert path("{subdir}/{stem}.{ext}", {**VALUES, "subdir": "../x/.."}) == "_./x/_./IMG_0001.jpg"
    assert path("{lens|default(a/b)}_{stem}.{ext}") == "a_b_IMG_0001.jpg"


@pytest.mark.parametrize("text, said", [
    ("{stme}.{ext}", "unknown field {stme}; use {stem}"),
    ("{sequence:04}.{ext}", "unknown field {sequence}; use {seq}"),
    ("{stem|slugg}", "unknown filter |slugg; use |slug"),
    ("{title|default(draft|final)}.{ext}", "|default( is not closed: the text in its parentheses may not hold |"),
    ("{stem|default}", "|default needs its text in parentheses"),
    ("{stem|slug(x)}", "|slug takes nothing in parentheses"),
    ("{seq:abc}", "{seq:abc}: not a format for a number"),
    ("{hash:99}", "1 to 64"),
    ("{taken:YYYY}", "strftime"),
    ("{taken:%Y/%Q}", "%Q is not a date field strftime knows"),  # glibc wrote a folder named %Q
    ("{taken:%Y/../../..}", "'..' is not a folder a date can name"),
    ("{width:>300}", "makes 300 characters or more"),  # every file failed, its name over 255 bytes
    ("{seq:.300f}", "makes 300 characters or more"),
    ("{taken:%-Q}", "%Q is not a date field"),
    ("{stem", "a lone '{'"),
    ("stem}", "a lone '}'"),
    # It said "a lone '{' at character 1", the one brace that was not alone (a review).
    ("{stem|default({camera})}", "fields do not nest: '{stem|default({camera})}' holds a field inside a field"),
    ("x_{stem|default({camera})}.{ext}", "fields do not nest"),
    ("{{stem}", "a lone '}'"),
    ("{}", "is not a field"),
    # A date as people write it was told only the list of fields (a shop admin's report).
    ("{date}_{stem}.{ext}", "unknown field {date}; use {taken} with a strftime format, e.g. {taken:%Y-%m-%d}"),
    ("{datetime}.{ext}", "unknown field {datetime}; use {taken} with a strftime format, e.g. {taken:%Y-%m-%d_%H%M%S}"),
    ("{Date:%Y}.{ext}", "use {taken} with a strftime format"),
    ("{year}/{stem}.{ext}", "unknown field {year}; use {taken} with a strftime format, e.g. {taken:%Y}"),
    # An item filter's.
    ("{stem|last}.{ext}", "|last takes one of a field's items, and {stem} is one value; fields of items: {subdir}, "
                          "{keywords}"),
    ("{subdir|slug|last}.{ext}", "|last must come first, on {subdir} as it is (|slug before it changes its "
                                 "separators): {subdir|last|slug}"),
    ("{keywords|pick}.{ext}", "|pick needs its text in parentheses, e.g. |pick(SKU-*)"),
    ("{subdir|first(2)}.{ext}", "|first takes nothing in parentheses"),
    ("{subdir|lats}.{ext}", "unknown filter |lats; use |last"),
])
def test_every_mistake_is_named(text, said):
    with pytest.raises(TemplateError) as exc:
        parse(text)
    assert said in str(exc.value)


def test_a_date_word_is_told_of_taken_only_where_taken_is_a_field():
    """`{year}` is set_metadata's own field; a manifest's name has no `{taken}` to offer."""
    assert parse("© {year}", METADATA_FIELDS).uses("year")
    with pytest.raises(TemplateError) as exc:
        parse("{date}.json", {"stem", "name"})
    assert "taken" not in str(exc.value)


def test_the_output_s_own_fields_are_for_file_names_only():
    assert "width" in FILENAME_FIELDS and "width" not in METADATA_FIELDS and "year" in METADATA_FIELDS
    with pytest.raises(TemplateError, match="known only in a file name"):
        parse("{width}", METADATA_FIELDS)


@pytest.mark.parametrize("text, slug", [
    ("Hochzeit Müller #3", "hochzeit-muller-3"),
    ("Café Zoë & Straße", "cafe-zoe-strasse"),
    ("  Canon EOS R5  ", "canon-eos-r5"),
    ("Ørsted Łódź Æble", "orsted-lodz-aeble"),
    ("東京", ""),
])
def test_slug_is_web_safe_ascii(text, slug):
    assert filters.slug(text) == slug


def test_an_empty_slug_takes_the_default():
    assert fill(parse("{title|slug|default(untitled)}"), {"title": "東京"}) == "untitled"


def test_a_parsed_template_says_which_fields_it_uses():
    t = templates.parsed("{taken:%Y}/{camera|slug}_{seq:04}.{ext}")
    assert t.fields == {"taken", "camera", "seq", "ext"} and t.uses("seq") and not t.uses("subdir")


def test_the_readme_says_every_field_and_filter_and_its_studio_example_is_valid():
    from pathlib import Path

    from hotfolder import config

    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    recipes = readme.split("## Recipes", 1)[1].split("## Config reference", 1)[0]
    for name in templates.FIELDS:
        if name != "year":  # set_metadata's, in its table
            assert "{" + name + "}" in recipes or "{" + name + ":" in recipes, name
    for name in filters.FILTERS:
        assert f"\\|{name}" in recipes, name
    studio = config.load(repo / "config" / "studio.yaml")
    assert [r.name for r in studio.folders[0].renditions] == ["client", "square", "portfolio", "print"]
    shown = recipes.split("```yaml\n", 1)[1].split("```", 1)[0]
    head = "folders:\n  - name: studio\n    inbox: in\n    output: out\n    archive: arch\n    failed: bad\n"
    said = config.parse(head + shown, "README.md", repo / "var").folders[0]
    for told, real in zip(said.renditions, studio.folders[0].renditions, strict=True):
        assert (told.name, told.filename, told.when, told.operation, told.long) == (
            real.name, real.filename, real.when, real.operation, real.long)


@pytest.mark.parametrize("text, values, expected", [
    # A shop's product codes: the last folder of a subfolder path, a keyword by its pattern.
    ("{subdir|last}/{stem}.{ext}", {"subdir": "shoes/Neue Kollektion"}, "Neue Kollektion/IMG_0001.jpg"),
    ("{subdir|first|upper}_{stem}.{ext}", {"subdir": "shoes/Neue Kollektion"}, "SHOES_IMG_0001.jpg"),
    ("{subdir|last|slug}_{stem}.{ext}", {"subdir": "shoes"}, "shoes_IMG_0001.jpg"),
    ("{subdir|last|default(top)}/{stem}.{ext}", {"subdir": ""}, "top/IMG_0001.jpg"),
    ("{keywords|pick(SKU-*)}_{stem}.{ext}", {"keywords": "beach, sku-0042, SKU-7"}, "sku-0042_IMG_0001.jpg"),
    ("{keywords|pick(SKU-*)|default(no-sku)}_{stem}.{ext}", {"keywords": "beach"}, "no-sku_IMG_0001.jpg"),
    ("{keywords|pick(SKU-*)|default(no-sku)}_{stem}.{ext}", {"keywords": None}, "no-sku_IMG_0001.jpg"),
    ("{keywords|last}_{stem}.{ext}", {"keywords": "a, b"}, "b_IMG_0001.jpg"),
    ("{subdir|pick(20??)}/{stem}.{ext}", {"subdir": "clients/2024/acme"}, "2024/IMG_0001.jpg"),
])
def test_an_item_filter_takes_one_folder_or_one_keyword(text, values, expected):
    assert path(text, {**VALUES, **values}) == expected


def test_an_item_filter_takes_a_keyword_holding_a_comma_whole():
    """Keywords reach a template joined by `, `; an item filter split that text, so `Paris, France`
    was two keywords there and one in `when: keywords:` (a review)."""
    import pickle

    from hotfolder.recipes.facts import Facts, Photo

    facts = Facts("IMG_0001.jpg", "", "shop", Photo(keywords=("Paris, France", "SKU-123")))
    values = {**VALUES, **facts.values()}
    assert path("{keywords|first}/{stem}.{ext}", values) == "Paris, France/IMG_0001.jpg"
    assert path("{keywords|pick(Paris, *)}/{stem}.{ext}", values) == "Paris, France/IMG_0001.jpg"
    assert path("{keywords|pick(*France)}_{stem}.{ext}", values) == "Paris, France_IMG_0001.jpg"
    assert path("{keywords}_{stem}.{ext}", values) == "Paris, France, SKU-123_IMG_0001.jpg"
    assert pickle.loads(pickle.dumps(values["keywords"])).items == ("Paris, France", "SKU-123")


@pytest.mark.parametrize("field, value, expected", [
    ("subdir", "a/..", "_./IMG_0001.jpg"), ("subdir", "../x", "_./IMG_0001.jpg"),
    ("keywords", "SKU-../../etc, b", "SKU-.._.._etc/IMG_0001.jpg"),  # a keyword's `/` is `_`, as {keywords}'s
    ("keywords", "SKU-\x1b[31m\u202e, b", "SKU-_[31m_/IMG_0001.jpg"),  # its control characters too
])
def test_an_item_filter_never_leaves_the_output_folder(field, value, expected):
    """An item is a part of the value: the path's rules hold for it as for the whole."""
    chosen = "pick(SKU-*)" if field == "keywords" else ("last" if value.startswith("a/") else "first")
    out = path(f"{{{field}|{chosen}}}/{{stem}}.{{ext}}", {**VALUES, field: value})
    assert out == expected and ".." not in out.split("/") and not out.startswith("/")




def test_check_config_names_an_item_filter_s_mistake_at_its_line(tmp_path):
    from hotfolder import config

    text = ("folders:\n  - name: shop\n    inbox: in\n    output: out\n    archive: arch\n    failed: bad\n"
            "    renditions:\n      - name: sku\n        size: 800\n"
            "        filename: \"sku/{keywords|pick(SKU-*)}/{subdir|last|slug}_{stem}.{ext}\"\n"
            "      - name: bad\n        size: 800\n        filename: \"{camera|last}_{stem}.{ext}\"\n")
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(config.ConfigError) as err:
        config.check(tmp_path / "c.yaml")
    assert [(p.line, p.key) for p in err.value.problems] == [(13, "folders[shop].renditions[bad].filename")]
    assert "|last takes one of a field's items, and {camera} is one value" in err.value.reason
    (tmp_path / "c.yaml").write_text(text.split("      - name: bad")[0])
    assert config.load(tmp_path / "c.yaml").folders[0].renditions[0].filename.startswith("sku/{keywords|pick")


@pytest.mark.parametrize("stem, expected", [
    ("new\nline", "new_line"),
    ("tab\there", "tab_here"),
    ("esc\x1b[31mred", "esc_[31mred"),
    ("del\x7f", "del_"),
    ("bidi\u202egpj", "bidi_gpj"),  # shown as `bidijpg`: spoofs the extension
    ("caf\u00e9 \u5199\u771f", "caf\u00e9 \u5199\u771f"),  # letters of every script are kept
    ("junk-\udcff", "junk-\udcff"),  # a byte that is not UTF-8 is kept (os.fsdecode's escape)
])
def test_the_original_s_name_loses_its_control_characters_in_an_output_s_name(stem, expected):
    """A client's `tab<TAB>here.jpg` went on into every output's name (an admin's report)."""
    values = {**VALUES, "stem": stem, "name": f"{stem}.jpg"}
    assert path("{stem}_{rendition}.{ext}", values) == f"{expected}_web.jpg"
    assert path("orig/{name}", values) == f"orig/{expected}.jpg"


def test_the_inbox_s_folder_names_are_kept_as_the_outputs_mirror_them():
    assert path("{subdir}/{stem}.{ext}", {**VALUES, "subdir": "a\tb/c"}) == "a\tb/c/IMG_0001.jpg"


def test_a_spec_that_makes_a_number_a_control_character_writes_an_underscore():
    """`{seq:c}` passed check-config and put a BEL in names (a review)."""
    assert path("{seq:c}_{stem}.{ext}", {**VALUES, "seq": 7}) == "__IMG_0001.jpg"
    assert path("{seq:03}_{stem}.{ext}", {**VALUES, "seq": 7}) == "007_IMG_0001.jpg"


def test_glibc_s_strftime_flags_are_dates_strftime_knows():
    """`%-d` (no padding) worked before the unknown fields were refused: kept (a checker's)."""
    assert path("{taken:%Y/%-m/%-d}_{stem}.{ext}") == "2024/5/1_IMG_0001.jpg"
    assert path("{taken:%_m%Ey}_{stem}.{ext}") == " 524_IMG_0001.jpg"


def test_a_photo_s_text_is_one_spelling_of_each_accented_letter_in_a_name():
    # A picture desk's audit: captions written on a Mac (XMP in Unicode NFD: `o` + a combining
    # diaeresis) named `Köln_web.jpg` with other bytes than the same caption typed on Windows:
    # two names that look alike, and a CMS's URL of one missing the other. A spec's cut is on
    # letters, never between a letter and its accent.
    nfd = "Ko\u0308ln Straße Łódź"
    name = fill(parse("{title}/{title:.2}_{keywords|first}.{ext}"),
                {"title": nfd, "keywords": filters.Items(("Mu\u0308nchen", "x"), ", "), "ext": "jpg"},
                as_path=True)
    assert name == "Köln Straße Łódź/Kö_München.jpg" and name.encode() == "Köln Straße Łódź/Kö_München.jpg".encode()


def test_a_length_written_after_a_filter_is_told_where_it_goes():
    # A picture desk's audit: `{headline|slug:40}` was told "unknown filter |slug:40; use |slug".
    with pytest.raises(TemplateError, match=r"before its filters: \{headline:\.40\|slug\}"):
        parse("{headline|slug:40}_{stem}.{ext}")


# --- names a Windows or macOS client opens (an SMB share, an exFAT or NTFS disk) ------------

@pytest.mark.parametrize("field, value, expected", [
    ("title", "Portrait: Anna?", "Portrait_ Anna_"),
    ("headline", '5" x 7"', "5_ x 7_"),
    ("description", "a<b>c|d*e", "a_b_c_d_e"),
    ("artist", "back\\slash", "back_slash"),
    ("keywords", filters.Items(("Wien: Oper", "A|B"), ", "), "Wien_ Oper, A_B"),
    ("model", "EOS R5?", "EOS R5_"),
])
def test_windows_forbidden_characters_of_a_photo_s_text_are_underscores(field, value, expected):
    """An exFAT or NTFS output refused `Portrait: Anna?_web.jpg` (the file failed, "No such file
    or directory"); a Samba share showed it to Windows and macOS clients as a mangled 8.3 name."""
    assert path(f"{{{field}}}_{{stem}}.{{ext}}", {**VALUES, field: value}) == f"{expected}_IMG_0001.jpg"
    assert path(f"{{{field}}}/{{stem}}.{{ext}}", {**VALUES, field: value}) == f"{expected}/IMG_0001.jpg"


@pytest.mark.parametrize("value, folder", [
    ("Hochzeit Müller.", "Hochzeit Müller"),
    ("ends with space ", "ends with space"),
    ("dots and spaces . . ", "dots and spaces"),
    ("...", None),  # nothing left: no folder
    ("..", None),  # nor a way out
])
def test_no_part_ends_in_a_dot_or_a_space_from_a_photo_s_text(value, folder):
    """Windows can neither open nor delete a folder `Hochzeit Müller.`."""
    expected = f"{folder}/IMG_0001.jpg" if folder else "IMG_0001.jpg"
    assert path("{title}/{stem}.{ext}", {**VALUES, "title": value}) == expected
    # inside a part it is no end: kept, as the names already written have it
    assert path("{title}_{stem}.{ext}", {**VALUES, "title": "Mr. "}) == "Mr. _IMG_0001.jpg"
    # one value after another: the last that is not empty ends the part
    assert path("{title}{lens}/{stem}.{ext}", {**VALUES, "title": "x.", "lens": None}) == "x/IMG_0001.jpg"


@pytest.mark.parametrize("value, expected", [
    ("CON", "CON_"), ("con", "con_"), ("Nul", "Nul_"), ("AUX", "AUX_"), ("PRN", "PRN_"),
    ("COM1", "COM1_"), ("lpt9", "lpt9_"), ("COM\u00b9", "COM\u00b9_"), ("CONIN$", "CONIN$_"),
    ("nul.txt", "nul_.txt"), ("CON .x", "CON_ .x"), ("aux.tar.gz", "aux_.tar.gz"),
    ("COM0", "COM0"), ("CONSOLE", "CONSOLE"), ("Conrad", "Conrad"), ("LPT", "LPT"),
])
def test_a_device_s_name_made_by_a_photo_s_text_gets_an_underscore(value, expected):
    """`CON`, `nul.txt`, `COM1` (any case, any extension) are devices on Windows: a folder or file
    of such a name cannot be opened or deleted there."""
    assert path("{artist}/{stem}.{ext}", {**VALUES, "artist": value}) == f"{expected}/IMG_0001.jpg"


def test_a_device_s_name_counts_only_as_a_whole_part_s_name():
    values = {**VALUES, "artist": "CON"}
    assert path("{artist}_{stem}.{ext}", values) == "CON_IMG_0001.jpg"  # `CON_IMG_0001` is no device
    assert path("x{artist}/{stem}.{ext}", values) == "xCON/IMG_0001.jpg"
    assert path("{artist}.{stem}.{ext}", values) == "CON_.IMG_0001.jpg"  # before the first dot: NUL.txt is NUL
    assert path("{taken:%Y}/{artist}/{stem}.{ext}", values) == "2024/CON_/IMG_0001.jpg"


def test_the_original_s_name_the_config_s_text_and_the_inbox_s_folders_keep_their_names():
    """Only the photo's texts are made portable: outputs named after the rest keep their names."""
    values = {**VALUES, "stem": "a:b?", "name": "CON.jpg", "subdir": "x./CON"}
    assert path("{stem}_{rendition}.{ext}", values) == "a:b?_web.jpg"
    assert path("orig/{name}", values) == "orig/CON.jpg"
    assert path("{subdir}/{stem}.{ext}", values) == "x./CON/a:b?.jpg"
    assert path("a:b/{stem}.{ext}", values) == "a:b/a:b?.jpg"
    assert path("{taken:%H:%M}_{stem}.{ext}") == "14:03_IMG_0001.jpg"  # the date's spec is the config's


def test_set_metadata_s_texts_are_written_as_the_photo_has_them():
    assert fill(parse("{title} ({artist})", METADATA_FIELDS), {"title": "Portrait: Anna?", "artist": "CON."}) \
        == "Portrait: Anna? (CON.)"


@pytest.mark.parametrize("rel, portable", [
    ("Portrait_ Anna_/a.jpg", True), ("CON_/b.jpg", True), ("CON_x.jpg", True), ("Mr._x.jpg", True),
    ("Portrait: Anna?/a.jpg", False), ("CON/b.jpg", False), ("nul.txt_x.jpg", False), ("Hochzeit./c.jpg", False),
    ("x /c.jpg", False), ('5" x 7".jpg', False),
])
def test_a_name_portable_would_leave_as_it_is_is_told_from_one_it_would_not(rel, portable):
    """What rerender tells an output named before `portable` by (its earlier names are left)."""
    assert templates.is_portable(rel) is portable
