"""A folder's `manifest:`: the JSON a web page needs of an original's outputs, written by
the worker with them (workers/manifest.py, workers/render.py), its name reserved with
theirs, its JSON carried by the `done` event (ops/message.py)."""
from __future__ import annotations

import base64
import io
import json
import os
import textwrap
from pathlib import Path
from urllib.parse import quote, unquote, urljoin

import pytest
from blake3 import blake3
from PIL import Image

from hotfolder import jobs
from hotfolder.config import parse
from hotfolder.config.model import ConfigError
from hotfolder.ops.message import Message
from hotfolder.ops.notices import Notice, NoticeKind
from hotfolder.spool import moves
from hotfolder.workers import render
from tests import thumbhash
from tests.imaging import photo

MAKE, MODEL, EXIF_IFD, DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x010F, 0x0110, 0x8769, 0x9003, 0x9011


RENDITIONS = """\
- {name: web, size: 640, format: jpeg, quality: auto}
- {name: thumb, operation: fill, size: 160x160, format: webp}
"""


def folder_config(tmp_path: Path, manifest: str | None = '"{stem}.json"', extra: str = "",
                  renditions: str = RENDITIONS):
    text = textwrap.dedent(f"""\
        folders:
          - inbox: in
            output: out
            archive: archive
            failed: failed
            {"manifest: " + manifest if manifest else ""}
            {extra}
            renditions:
        """) + textwrap.indent(renditions, " " * 6)
    cfg = parse(text, "<test>", tmp_path)
    folder = cfg.folders[0]
    for place in folder.all_dirs():
        place.mkdir(parents=True, exist_ok=True)
    return cfg, folder


def camera_jpeg(path: Path, colour_shift: int = 0) -> bytes:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = "Canon", "Canon EOS R5\0"
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = "2024:06:01 12:34:56"
    exif.get_ifd(EXIF_IFD)[OFFSET_TIME_ORIGINAL] = "+02:00"
    im = photo((1200, 800))
    if colour_shift:
        im = im.point(lambda v: min(255, v + colour_shift))
    im.save(path, quality=92, exif=exif.tobytes())
    return path.read_bytes()


def job_for(cfg, folder, name: str = "a.jpg", job_id: int = 1) -> jobs.Job:
    claimed = moves.claim(folder, folder.inbox / name)
    return jobs.Job(job_id, folder, claimed.path, claimed.rel, cfg.accepted_formats, cfg.max_image_pixels)


def rendered(cfg, folder, name: str = "a.jpg", job_id: int = 1) -> jobs.Result:
    return render.process_one(job_for(cfg, folder, name, job_id))


def test_the_manifest_describes_the_original_and_each_output_as_written(tmp_path):
    cfg, folder = folder_config(tmp_path)
    original = camera_jpeg(folder.inbox / "a.jpg")
    result = rendered(cfg, folder)
    assert result.ok and result.outputs == ("a_web.jpg", "a_thumb.webp")
    text = (folder.output / "a.json").read_text()
    assert result.manifest == text
    doc = json.loads(text)
    assert doc["version"] == 1
    assert doc["source"] == {"name": "a.jpg", "blake3": blake3(original).hexdigest(), "bytes": len(original),
                             "width": 1200, "height": 800, "taken": "2024-06-01T12:34:56+02:00",
                             "camera": "Canon EOS R5", "title": None, "headline": None, "caption": None,
                             "keywords": [], "creator": None, "credit": None, "copyright": None}
    web, thumb = doc["outputs"]
    for entry, name in ((web, "a_web.jpg"), (thumb, "a_thumb.webp")):
        data = (folder.output / name).read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            assert (entry["path"], entry["width"], entry["height"], entry["bytes"]) == (name, *im.size, len(data))
    assert (web["rendition"], web["format"], thumb["format"]) == ("web", "jpeg", "webp")
    assert (web["mime"], thumb["mime"]) == ("image/jpeg", "image/webp")
    assert isinstance(web["quality"], int) and isinstance(web["score_measured"], bool)  # quality: auto
    assert web["score"] is None or web["score"] >= 79  # measured, predicted, or unknown after a long step
    assert (thumb["quality"], thumb["score"], thumb["score_measured"]) == (85, None, False)  # a fixed quality
    assert len(base64.b64decode(doc["placeholder"])) >= 20
    assert doc["dominant_color"].startswith("#") and len(doc["dominant_color"]) == 7


def test_without_manifest_key_nothing_more_is_written(tmp_path):
    cfg, folder = folder_config(tmp_path, manifest=None)
    camera_jpeg(folder.inbox / "a.jpg")
    result = rendered(cfg, folder)
    assert result.ok and result.manifest == ""
    assert sorted(p.name for p in folder.output.iterdir()) == ["a_thumb.webp", "a_web.jpg"]


def test_two_originals_of_one_stem_get_their_own_manifests(tmp_path):
    cfg, folder = folder_config(tmp_path)
    camera_jpeg(folder.inbox / "a.jpg")
    photo((600, 400)).save(folder.inbox / "a.png")
    job = job_for(cfg, folder, "a.jpg", 1)
    first, second = render.process_one(job), rendered(cfg, folder, "a.png", 2)
    assert first.ok and second.ok
    assert json.loads((folder.output / "a.json").read_text())["source"]["name"] == "a.jpg"
    theirs = json.loads(second.manifest)
    assert theirs["source"]["name"] == "a.png" and (folder.output / "a~png.json").read_text() == second.manifest
    assert [o["path"] for o in theirs["outputs"]] == ["a_web~png.jpg", "a_thumb~png.webp"]
    again = render.process_one(job)  # the same original again (a retry): its own names, not a third
    assert again.ok and again.manifest == (folder.output / "a.json").read_text() == first.manifest
    assert sorted(p.name for p in folder.output.iterdir() if p.suffix == ".json") == ["a.json", "a~png.json"]


def test_a_subfolder_keeps_its_manifest_beside_its_outputs_with_paths_from_the_output_folder(tmp_path):
    cfg, folder = folder_config(tmp_path)
    (folder.inbox / "2024").mkdir()
    camera_jpeg(folder.inbox / "2024" / "a.jpg")
    result = rendered(cfg, folder, "2024/a.jpg")
    doc = json.loads((folder.output / "2024" / "a.json").read_text())
    assert [o["path"] for o in doc["outputs"]] == list(result.outputs) == ["2024/a_web.jpg", "2024/a_thumb.webp"]


def test_outputs_a_template_sends_elsewhere_are_listed_by_the_manifest_in_the_files_own_subfolder(tmp_path):
    # Recipes (issue 22): a filename template may put outputs in folders of their own; the
    # manifest stays in the original's subfolder of the output, listing where they went.
    cfg, folder = folder_config(tmp_path, renditions="""\
- {name: web, size: 640, format: jpeg, filename: "web/{subdir}/{stem}.{ext}"}
- {name: thumb, operation: fill, size: 160x160, format: webp}
""")
    (folder.inbox / "2024").mkdir()
    camera_jpeg(folder.inbox / "2024" / "a.jpg")
    result = rendered(cfg, folder, "2024/a.jpg")
    assert result.ok and result.outputs == ("web/2024/a.jpg", "2024/a_thumb.webp")
    assert (folder.output / "2024" / "a.json").read_text() == result.manifest
    doc = json.loads(result.manifest)
    assert [o["path"] for o in doc["outputs"]] == list(result.outputs)
    assert not (folder.output / "web" / "2024" / "a.json").exists()


def test_each_output_has_a_url_from_the_manifest_percent_encoded(tmp_path):
    # A shop's audit: a page fetching output/2024/a.json and resolving `path` from there asked
    # for output/2024/2024/a_web.jpg (404); a name with a space or '#' broke an <img src> as it is.
    cfg, folder = folder_config(tmp_path, renditions="""\
- {name: web, size: 640, format: jpeg}
- {name: zoom, size: 800, format: jpeg, filename: "zoom/{subdir|last}-{stem}.{ext}"}
""")
    (folder.inbox / "shoes").mkdir()
    camera_jpeg(folder.inbox / "shoes" / "red 50% #1.jpg")
    result = rendered(cfg, folder, "shoes/red 50% #1.jpg")
    assert result.ok and result.outputs == ("shoes/red 50% #1_web.jpg", "zoom/shoes-red 50% #1.jpg")
    doc = json.loads((folder.output / "shoes" / "red 50% #1.json").read_text())
    assert [o["url"] for o in doc["outputs"]] == ["red%2050%25%20%231_web.jpg", "../zoom/shoes-red%2050%25%20%231.jpg"]
    manifest_url = "https://shop.example/img/shoes/red%2050%25%20%231.json"
    for entry in doc["outputs"]:  # what a browser does with it: the output's own URL
        assert urljoin(manifest_url, entry["url"]) == "https://shop.example/img/" + quote(entry["path"])
        assert (folder.output / unquote(urljoin("/", urljoin("/shoes/x.json", entry["url"]))[1:])).is_file()


def test_a_url_keeps_a_name_that_is_not_utf8_as_its_bytes(tmp_path):
    cfg, folder = folder_config(tmp_path)
    name = os.fsdecode(b"caf\xe9.jpg")
    camera_jpeg(folder.inbox / name)
    result = rendered(cfg, folder, name)
    assert result.ok
    doc = json.loads(result.manifest)
    assert [o["url"] for o in doc["outputs"]] == ["caf%E9_web.jpg", "caf%E9_thumb.webp"]
    assert [o["path"] for o in doc["outputs"]] == ["caf\\xe9_web.jpg", "caf\\xe9_thumb.webp"]


def test_an_original_without_exif_has_no_date_or_camera(tmp_path):
    cfg, folder = folder_config(tmp_path)
    photo((500, 300)).save(folder.inbox / "a.png")
    doc = json.loads(rendered(cfg, folder, "a.png").manifest)
    assert (doc["source"]["taken"], doc["source"]["camera"]) == (None, None)


@pytest.mark.parametrize("tags, taken, camera", [
    ({DATETIME_ORIGINAL: "2024:02:31 10:00:00"}, None, None),  # no such day: not "2024-02-31T10:00:00"
    ({0x0132: "2020:06:06 06:06:06"}, None, None),  # IFD0's DateTime (the file's change), not when taken
    ({DATETIME_ORIGINAL: "2024-05-01T14:03:22", 0x9010: "+0200"}, "2024-05-01T14:03:22+02:00", None),
    ({MAKE: "NIKON CORPORATION", MODEL: "NIKON Z 6"}, None, "NIKON Z 6"),
    ({MAKE: "Can\0on", MODEL: "EOS\nR5"}, None, "Can on EOS R5"),  # a NUL parts EXIF's text (Copyright's two)
])
def test_the_manifest_says_what_the_templates_say_of_when_and_with_what(tmp_path, tags, taken, camera):
    """A second EXIF reader made the manifest's `taken` and `camera` differ from `{taken}`
    and `{camera}`, and kept impossible dates (a review)."""
    from hotfolder.engine import facts
    from hotfolder.recipes.facts import Photo

    exif = Image.Exif()
    for tag, value in tags.items():
        (exif.get_ifd(EXIF_IFD) if tag in (DATETIME_ORIGINAL, 0x9010) else exif)[tag] = value
    cfg, folder = folder_config(tmp_path)
    buffer = io.BytesIO()
    photo((500, 300)).save(buffer, "JPEG", exif=exif)
    (folder.inbox / "a.jpg").write_bytes(buffer.getvalue())
    source = json.loads(rendered(cfg, folder, "a.jpg").manifest)["source"]
    assert (source["taken"], source["camera"]) == (taken, camera)
    with Image.open(buffer) as im:  # what {taken} and {camera} are made of
        found = facts.camera_facts(im.getexif())
    said = Photo(make=found["make"], model=found["model"]).camera
    assert (found["taken"].isoformat() if found["taken"] else None) == taken
    assert said == camera or (said or "").replace("\n", " ") == camera


@pytest.mark.parametrize("manifest, said", [
    ('"manifest.json"', "must contain {stem} or {name}"),
    ('"{stem}_{rendition}.json"', "{rendition} is not known here (a rendition's filename takes it); fields here: "
                                  "{folder}, {name}, {source_ext}, {stem}"),
    # a photo's field is no typo: never "use {name}" (difflib's nearest) for {camera}
    ('"{camera}_{stem}.json"', "{camera} is not known here (a rendition's filename takes it); fields here: "
                               "{folder}, {name}, {source_ext}, {stem}"),
    # {year} is set_metadata's alone: a filename does not take it either
    ('"{year}_{stem}.json"', "{year} is not known here (only set_metadata's texts take it); fields here: "
                             "{folder}, {name}, {source_ext}, {stem}"),
    ('"../{stem}.json"', "must name a file, not a path"),
    ('"manifests/{stem}.json"', "must name a file, not a path or a hidden file: a manifest is written in the "
                                "original's own subfolder of the output; name it e.g. \"{stem}.json\""),
    ('"{stem}_web.jpg"', "must end in .json"),  # it would take the web rendition's own name
    ('"{stem}"', "must end in .json"),
    # a web developer's first guess: it said "must be a non-empty text, not the boolean true", not what to write
    ("true", 'must be a file name template such as "{stem}.json", not the boolean true'),
    ("yes", 'must be a file name template such as "{stem}.json", not the boolean true'),
    ("false", 'must be a file name template such as "{stem}.json", not the boolean false (leave the key out '
              'for none)'),
])
def test_a_manifest_template_is_checked_as_a_file_name(tmp_path, manifest, said):
    with pytest.raises(ConfigError) as info:
        folder_config(tmp_path, manifest)
    assert said in str(info.value) and "manifest" in str(info.value)


def test_the_done_event_carries_the_manifest():
    manifest = json.dumps({"version": 1, "outputs": [{"path": "a_web.jpg"}]})
    done = Notice(NoticeKind.DONE, "shop", "a.jpg", outputs=("a_web.jpg",), manifest=manifest)
    message = Message((done,), 1, "host")
    payload = message.payload()
    assert payload["event"] == "done" and payload["outputs"] == ["a_web.jpg"]
    assert payload["manifest"] == json.loads(manifest)
    assert message.text()[0] == "hotfolder on host: file done: shop/a.jpg" and message.all_good
    bare = Message((Notice(NoticeKind.DONE, "shop", "b.jpg", outputs=("b_web.jpg",)),), 1, "host").payload()
    assert bare["manifest"] is None
    failed = Message((Notice(NoticeKind.FAILED, "shop", "c.jpg", "bad"),), 1, "host").payload()
    assert "manifest" not in failed


def test_an_attempt_superseded_writes_no_output_and_reports_no_failure(tmp_path):
    """cluster/tasks.py's fence: asked before the first output is written and before a failure
    is said; when the job is another attempt's, Superseded propagates and nothing is written."""
    cfg, folder = folder_config(tmp_path)
    camera_jpeg(folder.inbox / "a.jpg")
    asked: list[str] = []

    def fence() -> None:
        asked.append("asked")
        raise jobs.Superseded("another attempt took the job over")

    with pytest.raises(jobs.Superseded):
        render.process_one(job_for(cfg, folder), fence=fence)
    assert asked and not list(folder.output.rglob("*")) and (folder.processing / "a.jpg").exists()
    (folder.inbox / "bad.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    asked.clear()
    with pytest.raises(jobs.Superseded):  # a failure (here: it cannot be read) is the superseding attempt's to say
        render.process_one(job_for(cfg, folder, "bad.jpg", 2), fence=fence)
    assert asked


def test_explain_says_where_the_manifest_goes(tmp_path):
    # A shop's audit: explain named every output's place but not the manifest's, the file a
    # page reads (in the file's own subfolder, wherever templates send the outputs).
    from hotfolder.cli.explain import explain_as

    cfg, folder = folder_config(tmp_path)
    (folder.inbox / "shoes").mkdir()
    camera_jpeg(folder.inbox / "shoes" / "a.jpg")
    lines = explain_as(cfg, folder, folder.inbox / "shoes" / "a.jpg", "shoes/a.jpg", "in its inbox",
                       dropped=True).lines()
    assert "  note: manifest → shoes/a.json (each output's url in it is from there)" in lines, lines
    _, without = folder_config(tmp_path / "none", manifest=None)
    camera_jpeg(without.inbox / "a.jpg")
    assert not any("manifest" in line for line in explain_as(cfg, without, without.inbox / "a.jpg", "a.jpg",
                                                             "in its inbox").lines())


@pytest.mark.parametrize("path, home, url", [
    ("javascript:alert(1)_web.jpg", "", "javascript%3Aalert%281%29_web.jpg"),  # never a scheme: ':' is encoded
    ("shoes/?a=1&b#c_web.jpg", "shoes", "%3Fa%3D1%26b%23c_web.jpg"),  # never a query or a fragment
    ("//host/x_web.jpg".lstrip("/"), "", "host/x_web.jpg"),
    ("a/b/c_web.jpg", "a/b", "c_web.jpg"),
    ("zoom/a_web.jpg", "a/b", "../../zoom/a_web.jpg"),
])
def test_a_url_is_a_relative_path_and_nothing_else(path, home, url):
    from hotfolder.workers.manifest import url as url_of

    assert url_of(path, home) == url
    assert urljoin("https://shop.example/img/" + (home + "/" if home else "") + "m.json", url).startswith(
        "https://shop.example/img/")


def test_a_url_does_not_ask_for_the_working_directory(tmp_path, monkeypatch):
    # posixpath.relpath makes both paths absolute from os.getcwd(): a daemon (or `hotfolder
    # process`) started in a folder removed since failed every manifest with ENOENT.
    from hotfolder.workers.manifest import url as url_of

    cfg, folder = folder_config(tmp_path / "f")
    camera_jpeg(folder.inbox / "a.jpg")
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert url_of("zoom/a b.jpg", "shoes/red") == "../../zoom/a%20b.jpg"
    assert url_of("shoes/a.jpg", "shoes") == "a.jpg"
    assert url_of("a.jpg", "") == "a.jpg"
    result = rendered(cfg, folder, "a.jpg")
    assert result.ok, result
    assert [o["url"] for o in json.loads(result.manifest)["outputs"]] == ["a_web.jpg", "a_thumb.webp"]


XMP_CREDITS = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:Credit="© Agence France-Presse">
<dc:creator><rdf:Seq><rdf:li>Łukasz Żółć</rdf:li><rdf:li>Анна Петрова</rdf:li></rdf:Seq></dc:creator>
<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">© 2026 AFP</rdf:li></rdf:Alt></dc:rights>
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">Москва: Bürgermeister «réussi»</rdf:li></rdf:Alt>
</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_the_manifest_gives_a_cms_the_photo_s_caption_byline_credit_and_copyright(tmp_path):
    # A picture desk's audit: the manifest a CMS imports had the size, date and camera but
    # not the caption, byline, credit or copyright the photo carries, which the page must
    # print beside it: the importer had to parse every JPEG's XMP and IIM itself.
    from hotfolder.engine import iptc
    from tests.attack_files import app13

    cfg, folder = folder_config(tmp_path)
    iim = iptc.serialise([(1, 90, b"\x1b%G"), (2, 5, "Köln".encode()), (2, 105, "Überschrift".encode()),
                          (2, 25, b"Politik"), (2, 25, "Köln".encode()), (2, 80, "Łukasz Żółć/dpa".encode()),
                          (2, 110, b"dpa"), (2, 116, "© dpa".encode()), (2, 120, b"Caption from IIM")])
    exif = Image.Exif()
    exif[0x013B] = "Staff Camera Owner"  # Artist: the last word, after XMP's and IIM's
    photo((300, 200)).save(folder.inbox / "wire.jpg", exif=exif.tobytes(), extra=app13(iim))
    source = json.loads(rendered(cfg, folder, "wire.jpg").manifest)["source"]
    assert {k: source[k] for k in ("title", "headline", "caption", "keywords", "creator", "credit", "copyright")} == {
        "title": "Köln", "headline": "Überschrift", "caption": "Caption from IIM", "keywords": ["Politik", "Köln"],
        "creator": "Łukasz Żółć/dpa", "credit": "dpa", "copyright": "© dpa"}
    # XMP before IIM, as readers prefer it (the MWG's rule); the camera's Artist only when neither has one
    photo((300, 200)).save(folder.inbox / "b.jpg", exif=exif.tobytes(), extra=app13(iim),
                           xmp=XMP_CREDITS.encode())
    source = json.loads(rendered(cfg, folder, "b.jpg", 2).manifest)["source"]
    assert (source["creator"], source["credit"], source["copyright"], source["caption"]) == (
        "Łukasz Żółć; Анна Петрова", "© Agence France-Presse", "© 2026 AFP", "Москва: Bürgermeister «réussi»")
    photo((300, 200)).save(folder.inbox / "c.jpg", exif=exif.tobytes())
    source = json.loads(rendered(cfg, folder, "c.jpg", 3).manifest)["source"]
    assert (source["creator"], source["caption"], source["keywords"]) == ("Staff Camera Owner", None, [])


def _wire_photo(path: Path, xmp: bytes | None = None) -> None:
    """A wire photo: its caption, keywords and credits in IPTC-IIM, a camera and a date in EXIF."""
    from hotfolder.engine import iptc
    from tests.attack_files import app13

    iim = iptc.serialise([(1, 90, b"\x1b%G"), (2, 5, b"Private title"), (2, 105, b"Private headline"),
                          (2, 25, b"client-x"), (2, 80, b"Ann Smith"), (2, 110, b"Studio"),
                          (2, 116, b"(c) Studio"), (2, 120, b"Private caption")])
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = "Canon", "Canon EOS R5"
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = "2024:06:01 12:34:56"
    photo((300, 200)).save(path, exif=exif.tobytes(), extra=app13(iim), **({"xmp": xmp} if xmp else {}))


TEXTS = ("taken", "camera", "title", "headline", "caption", "keywords", "creator", "credit", "copyright")
EVERYTHING = {"taken": "2024-06-01T12:34:56", "camera": "Canon EOS R5", "title": "Private title",
              "headline": "Private headline", "caption": "Private caption", "keywords": ["client-x"],
              "creator": "Ann Smith", "credit": "Studio", "copyright": "(c) Studio"}
NOTHING = {"taken": None, "camera": None, "title": None, "headline": None, "caption": None, "keywords": [],
           "creator": None, "credit": None, "copyright": None}
RIGHTS = {**NOTHING, "creator": "Ann Smith", "credit": "Studio", "copyright": "(c) Studio"}


@pytest.mark.parametrize("renditions, published", [
    # A shop's strip-all: its outputs carry none of the photo's texts, dates or camera; the
    # manifest published beside them gave them all (a privacy review: client-x, the caption).
    ("- {name: web, size: 200, format: jpeg, metadata: strip-all}\n"
     "- {name: thumb, size: 100, format: webp, metadata: strip-all}\n", NOTHING),
    # copyright-only keeps the rights fields, no dates or camera (README), nor the captions
    ("- {name: web, size: 200, format: jpeg, metadata: copyright-only}\n", RIGHTS),
    # ... unless set_metadata writes them into the output: the README's news desk
    ("- name: web\n  size: 200\n  format: jpeg\n  metadata: copyright-only\n  set_metadata:\n"
     "    title: \"{title}\"\n    description: \"{description} (Foto: {artist})\"\n    keywords: \"{keywords}\"\n",
     {**RIGHTS, "title": "Private title", "caption": "Private caption", "keywords": ["client-x"]}),
    ("- name: web\n  size: 200\n  format: jpeg\n  metadata: strip-all\n  set_metadata:\n"
     "    artist: \"{artist}\"\n    headline: \"Portfolio\"\n",
     {**NOTHING, "creator": "Ann Smith"}),
    # an output that keeps them (keep, strip-gps) publishes them: the manifest says what it carries
    ("- {name: web, size: 200, format: jpeg, metadata: strip-all}\n"
     "- {name: full, size: 300, format: jpeg, metadata: strip-gps}\n", EVERYTHING),
    ("- {name: web, size: 200, format: webp, metadata: keep}\n", EVERYTHING),
])
def test_the_manifest_gives_of_the_photo_only_what_an_output_beside_it_carries(tmp_path, renditions, published):
    cfg, folder = folder_config(tmp_path, renditions=renditions)
    _wire_photo(folder.inbox / "a.jpg")
    source = json.loads(rendered(cfg, folder).manifest)["source"]
    assert {k: source[k] for k in TEXTS} == published



def test_the_manifest_s_texts_hold_no_control_characters(tmp_path):
    # A wire photo's credit with a NUL (an old tool's C string) was "\\u0000" in the JSON:
    # PostgreSQL's jsonb refuses it, and the CMS importer failed on the file; an ESC or a
    # bidi override moved a terminal's cursor or turned the printed byline around. The
    # camera was shown so already (shown.UNSHOWN).
    from hotfolder.engine import iptc
    from tests.attack_files import app13

    cfg, folder = folder_config(tmp_path)
    iim = iptc.serialise([(2, 110, b"dpa\0"), (2, 80, "Ann\u202e Smith\x1b[31m".encode()),
                          (2, 120, "Line one\x00\x85 \u200bline two".encode()), (2, 25, b"k\x07w"),
                          (2, 5, "\u009btitle".encode())])
    photo((300, 200)).save(folder.inbox / "a.jpg", extra=app13(iim))
    source = json.loads(rendered(cfg, folder).manifest)["source"]
    assert (source["credit"], source["creator"], source["caption"], source["keywords"], source["title"]) == (
        "dpa", "Ann Smith [31m", "Line one line two", ["k w"], "title")


def test_the_manifest_s_taken_is_the_second_shooter_s_clock_corrected_as_the_names_are(tmp_path):
    """A wedding's second camera an hour ahead (`clock_offsets: {"Canon*": "-1h"}` here): its
    outputs are named by the moment it took the photo, 11:34:56, but the manifest, which says
    "what {taken} says" and by which a gallery page sorts the two cameras' photos, gave the
    camera's 12:34:56. The outputs' EXIF keeps what the camera wrote."""
    cfg, folder = folder_config(tmp_path, extra='clock_offsets: {"Canon*": "-1h"}',
                                renditions='- {name: web, size: 320, format: jpeg, metadata: keep, '
                                           'filename: "{taken:%H%M%S}_{stem}.{ext}"}\n')
    camera_jpeg(folder.inbox / "a.jpg")
    result = rendered(cfg, folder)
    assert result.ok and result.outputs == ("113456_a.jpg",), result
    doc = json.loads((folder.output / "a.json").read_text())
    assert doc["source"]["taken"] == "2024-06-01T11:34:56+02:00", doc["source"]
    with Image.open(folder.output / "113456_a.jpg") as im:
        assert im.getexif().get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] == "2024:06:01 12:34:56"


def _edged(path: Path) -> None:
    """A 3:2 photo, blue in the middle square and red at both sides: a centred square crop
    (a fill thumbnail) shows no red."""
    im = Image.new("RGB", (600, 400), (20, 20, 220))
    for x0 in (0, 500):
        im.paste((220, 20, 20), (x0, 0, x0 + 100, 400))
    im.save(path, quality=95)


def test_the_placeholder_is_of_the_photo_as_the_page_shows_it_not_the_square_thumbnail(tmp_path):
    """The smallest output was the square `fill` thumbnail: a product page's srcset of 3:2
    `fit` widths got a square blur-up of the middle of the photo. The placeholder is of the
    smallest output in the photo's own shape, decoded here as a page does (tests/thumbhash)."""
    cfg, folder = folder_config(tmp_path, renditions="""\
- {name: w960, size: 960, format: jpeg}
- {name: thumb, operation: fill, size: 96x96, format: webp}
- {name: w240, size: 240, format: jpeg}
- {name: w240-webp, size: 240, format: webp}
""")
    _edged(folder.inbox / "a.jpg")
    assert rendered(cfg, folder).ok
    doc = json.loads((folder.output / "a.json").read_text())
    assert doc["placeholder_of"] == "a_w240-webp.webp", "the last of the two 240 px outputs, which are one picture"
    w, h, pixels = thumbhash.decoded(doc["placeholder"])
    assert (w, h) == (32, 23), "the preview is the photo's 3:2 (as ThumbHash rounds it), not square"
    assert abs(w / h - 240 / 160) < abs(w / h - 1)
    left, middle = pixels[11 * w], pixels[11 * w + w // 2]
    assert left[0] > left[2] + 60 and middle[2] > middle[0] + 60, ("red at the sides, blue in the middle", left, middle)


def test_without_an_output_in_the_photo_s_shape_the_placeholder_is_of_the_smallest(tmp_path):
    cfg, folder = folder_config(tmp_path, renditions="""\
- {name: thumb, operation: fill, size: 96x96, format: webp}
- {name: square, operation: pad, size: 300x300, format: jpeg}
""")
    _edged(folder.inbox / "a.jpg")
    assert rendered(cfg, folder).ok
    doc = json.loads((folder.output / "a.json").read_text())
    assert doc["placeholder_of"] == "a_thumb.webp"
    w, h, pixels = thumbhash.decoded(doc["placeholder"])
    assert (w, h) == (32, 32) and pixels[16 * w][2] > pixels[16 * w][0] + 60, "the square's, all blue"
