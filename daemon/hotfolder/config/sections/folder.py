"""A watched folder: its places, what happens to its originals, its renditions."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hotfolder.config.choices import Animation, NameClash, OnNoRendition, OnSuccess, RawMode, WatchMode
from hotfolder.config.keys import Key, as_fields, read_keys
from hotfolder.config.model import DEFAULT_IGNORE, DEFAULT_PASS_THROUGH, MANIFEST_FIELDS, Folder
from hotfolder.config.reader import Context, Reader, built, recorded, section
from hotfolder.config.sections import duplicates, levels, rendition, when
from hotfolder.config.template_values import Template
from hotfolder.config.values import Choice, ClockOffsets, Float, Globs, Group, Items, Mode, Path_, Text, resolve
from hotfolder.recipes import conditions, config_names, templates
from hotfolder.recipes.templates import Template as TemplateText


def _told_apart(rend) -> str:
    """What tells a rendition from another of its name: its format, unless `same`."""
    return "2" if str(rend.format) == "same" else str(rend.format)


def _manifest_problem(template: TemplateText) -> str | None:
    """A file name (in the file's own subfolder of the output) that tells the originals apart."""
    skeleton = "".join(p if isinstance(p, str) else "x" for p in template.parts)
    if "/" in skeleton or skeleton.startswith("."):
        return (f"{template.text!r} must name a file, not a path or a hidden file: a manifest is written in "
                "the original's own subfolder of the output; name it e.g. \"{stem}.json\"")
    if not template.fields & {"stem", "name"}:
        return f"{template.text!r} must contain {{stem}} or {{name}}, or every input would write the same file"
    if not skeleton.lower().endswith(".json"):  # else it may take an output's own name ({stem}_web.jpg)
        return (f"{template.text!r} must end in .json, e.g. \"{{stem}}.json\": a manifest is JSON (served as "
                "such by its name), and under an output's name (\"{stem}_web.jpg\") it would be moved aside to "
                "a ~suffixed .jpg of its own")
    return None


_WHERE = "which folders may lie in which: [where the folders may lie](#the-folders-a-files-life)"

KEYS = (
    Key("name", Text(), None, "used in logs and the `{folder}` template field; also what the index of originals "
        "(duplicates), the records of clips passed through and `{seq}` know the folder by: renamed with the same "
        "`processing:`, it keeps its earlier originals and clips (copies of them are still skipped) and counts "
        "`{seq}` anew; renamed with another `processing:` too, it knows none of them (a reload says what it forgets)",
        shown="the inbox's parent"),
    Key("inbox", Path_(folder=True), None, f"required; where files are dropped; {_WHERE}", required=True),
    Key("output", Path_(folder=True), None, "required; where the renditions are written", required=True),
    Key("failed", Path_(folder=True), None, "required; files that could not be rendered, each with "
                                            "`NAME.error.json` saying why", required=True),
    Key("archive", Path_(folder=True), None, "the originals after success; required unless `on_success: delete`"),
    Key("processing", Path_(folder=True), None,
        "processing, archive and failed must be on the inbox's file system (originals move by rename); checked "
        "at load. Outputs may go anywhere. Who owns an output name is its original's path here: after a change "
        "of `processing:` (or of where the folders are), the outputs made before are of an owner no longer "
        "known, kept, and a new version of such a photo gets outputs of its own (`~jpg`), not theirs",
        shown="`<inbox>/../processing`"),
    Key("on_success", Choice(OnSuccess), OnSuccess.ARCHIVE, "or `delete`"),
    Key("watch", Choice(WatchMode), WatchMode.AUTO,
        "`inotify`, `poll`, or `auto`: polls on network file systems (NFS, SMB/CIFS, sshfs, 9p, …), read from "
        "the mount table"),
    Key("quiet_period", Float(lo=0.0, hi=3600, seconds=True), 0.1,
        "seconds a closed file must stay unchanged; raise it above the pauses of a writer that closes between "
        "chunks (FTP resume, `cat >>` loops, some NAS clients): [writers](#dropping-files)"),
    Key("stalled_after", Float(lo=1.0, hi=86400, seconds=True), 60.0,
        "seconds a writer may pause before its file is taken as it is: one held open without a change, an empty "
        "one (a placeholder its writer fills later; it fails as empty if it stays so), or one that turned out cut "
        "short (given back to the inbox to grow; it fails as truncated if it does not)"),
    Key("rescan_interval", Float(lo=0.1, hi=86400, seconds=True), 30.0,
        "a full rescan of the inbox, the safety net for missed events"),
    Key("output_mode", Mode(), 0o644, "file mode of the outputs (quote it)"),
    Key("output_group", Group(), None, "group of the outputs (name or gid; must exist)"),
    Key("animation", Choice(Animation, aliases={"first": "first-frame", "first_frame": "first-frame"}),
        Animation.FIRST_FRAME, "animated GIF/WebP: render the first frame, or `fail`"),
    Key("on_name_clash", Choice(NameClash), NameClash.SUFFIX,
        "when another original's output has the name this one's would get: `suffix` (`a_web~png.jpg`), "
        "`replace`, or `fail` (to `failed/`, naming the clash)"),
    Key("raw", Choice(RawMode), RawMode.AUTO,
        "camera RAWs: `preview` (the embedded JPEG), `develop` (LibRaw: camera white balance, sRGB), or `auto` "
        "(the preview when it is as large as the largest rendition needs, else a develop)"),
    Key("manifest", Template(MANIFEST_FIELDS, _manifest_problem, example='"{stem}.json"'), None,
        "a JSON manifest per original, written beside its outputs with them: a file name template ending in "
        "`.json`, such as `\"{stem}.json\"` (fields: `{stem}`, `{name}`, `{source_ext}`, `{folder}`); see "
        "\"Manifests\""),
    Key("ignore", Globs(), DEFAULT_IGNORE,
        "file name patterns left alone in the inbox, never a failure (a folder so named: everything in it); "
        "case does not matter; hidden names (`.DS_Store`, `._*`) and temp names are always ignored: "
        "[what a card dump holds](#dropping-files)"),
    Key("keep_subfolders", when.Globs(empty=True, of_files=False), (),
        "subfolders of the inbox (globs as `when: subfolder:`, e.g. `clients/*`) kept when the daemon empties "
        "them: drop folders shared with clients over SMB or FTP, which are otherwise removed once emptied "
        "([Dropping files](#dropping-files))"),
    Key("pass_through", Globs(), DEFAULT_PASS_THROUGH,
        "file name patterns moved to `archive/` untouched (videos; XMP sidecars go with their images: "
        "`sidecar_wait`), never rendered nor failed; with "
        "`on_success: delete` they are left in the inbox. A list replaces the default: repeat what you keep"),
    Key("on_no_rendition", Choice(OnNoRendition), OnNoRendition.ARCHIVE,
        "a file none of whose renditions' `when:` holds: `archive` (archived, or deleted with `on_success: "
        "delete`, with a `file_unmatched` log line and a count: not a failure), or `fail` (to `failed/`, "
        "saying which condition excluded each rendition)"),
    Key("sidecar_wait", Float(lo=0.0, hi=3600, seconds=True), 5.0,
        "seconds an XMP sidecar (`IMG_0001.xmp`, `IMG_0001.CR3.xmp`) waits in the inbox for its image, and an "
        "image for the sidecar being written beside it; a sidecar whose image never comes is archived, with a "
        "note in the log"),
    Key("clock_offsets", ClockOffsets(), (),
        "cameras whose clock was off, and the time to add to it: `{\"NIKON Z 6_2\": \"-1h\"}` (a second "
        "shooter's camera an hour ahead: its `{taken}` an hour earlier), `+30m`, `-1h02m30s`, `+400d`; "
        "the camera as `when: camera:` matches it (globs, the first that matches; two bodies of one model are "
        "one camera to it, as no serial number is read: the main and the second shooter's NIKON Z 6_2 are both "
        "moved, so give the second shooter's cards a folder of their own, with its own `clock_offsets`). "
        "`{taken}` in names, `explain` and the manifest's `taken` only: the outputs' EXIF keeps what the "
        "camera wrote; a date it would move past the year 9999 (or before the year 1) is left as written, with a "
        "note in the log"),
    *duplicates.KEYS,
    Key("renditions", Items(rendition.read, "renditions"), (), "a list, below",
        required="is required: a non-empty list of renditions"),
)


@section
def read(ctx: Context, data: Any, path: str) -> Folder:
    r = Reader(ctx, data, path)
    values = read_keys(r, KEYS)
    inbox = values["inbox"]
    beside = inbox.parent if inbox else ctx.base  # a missing inbox is reported; the rest is still checked
    if values["name"] is None:
        values["name"] = inbox.name if inbox and inbox.name != "inbox" else beside.name
        r.alias(f"{path.rpartition('[')[0]}[{values['name']}]")  # how later checks name it
    if values["processing"] is None:
        with recorded():
            values["processing"] = resolve(r, "processing", str(beside / "processing"), folder=True)
    if values["duplicates"] is None:
        with recorded():
            default = duplicates.beside(values["failed"] or beside / "failed")
            values["duplicates"] = resolve(r, "duplicates", str(default), folder=True)
    with recorded():
        if r.ok("on_success", "archive"):
            if values["on_success"] == OnSuccess.ARCHIVE and values["archive"] is None:
                r.fail("archive", "is required unless on_success: delete")
            if values["on_success"] == OnSuccess.DELETE and values["archive"] is not None:
                r.fail("archive", "must be left out when on_success: delete (or set on_success: archive)")
    seen: dict[str, int] = {}
    for i, rend in enumerate(values["renditions"]):
        if rend is None:  # its problems are reported already
            continue
        if rend.name in seen:  # said what to do (a shop's audit: a WebP copied from its JPEG kept the name)
            with recorded():
                r.fail(f"renditions[{i}].name", f"{rend.name!r} is used twice in this folder (also "
                                                f"renditions[{seen[rend.name]}]): give each rendition a name of "
                                                f"its own, e.g. {f'{rend.name}-{_told_apart(rend)}'!r}")
        seen.setdefault(rend.name, i)
    _same_names(r, values["renditions"])
    _unportable_names(r, values["name"], values["renditions"], values["manifest"])
    _all_conditional(r, values["renditions"])
    if inbox is not None:
        _inbox_in_globs(r, inbox.name, values["renditions"], values["keep_subfolders"] or ())
    values["renditions"] = built(values["renditions"])
    r.done(elsewhere=levels.folder())
    return Folder(**as_fields(KEYS, values))


def _same_names(r: Reader, renditions: list) -> None:
    """Warn of two renditions whose `filename` gives the same names (`{stem}_portrait.{ext}`
    beside a `portrait` rendition's default): where both apply to a photo the second is
    written as `~jpg`, the suffix of two originals' clash, and check-config had said OK (a new
    user). Only where that is sure from the text: not for a name that differs by the output
    (`{width}`, `{rendition|upper}`)."""
    written: dict[str, tuple[str, bool]] = {}
    for i, rend in enumerate(renditions):
        name = _fixed_name(rend) if rend is not None else None
        if name is None:
            continue
        first, conditional = written.setdefault(name, (rend.name, rend.when is not None))
        if first != rend.name:
            caveat = (" (unless their `when:` never both hold)" if conditional or rend.when is not None else "")
            shown = rend.filename.replace("{rendition}", rend.name).replace("{ext}", _ext(rend))
            r.warn(f"renditions[{i}].filename", f"gives the names rendition {first} gives ({shown!r}): where both "
                                                f"apply to a photo{caveat}, the second output of a name gets a `~` "
                                                "suffix, as two originals' outputs do; give it a filename of its own")


def _unportable_names(r: Reader, name: str, renditions: list, manifest: str | None) -> None:
    """Warn of each `filename` and `manifest` whose own text (its literal text, a date's spec,
    the folder's and the rendition's names) puts into every output's name what Windows and
    macOS clients cannot open (recipes/config_names.py): the photo's texts are made portable
    when filled in, the config's are kept, or every output of a recipe would change name."""
    for i, rend in enumerate(renditions):
        if rend is not None and (reason := config_names.unportable(
                templates.parsed(rend.filename), {"folder": name, "rendition": rend.name})):
            r.warn(f"renditions[{i}].filename", reason)
    if isinstance(manifest, str) and r.ok("manifest") and (reason := config_names.unportable(
            templates.parsed(manifest, MANIFEST_FIELDS), {"folder": name})):
        r.warn("manifest", reason)


def _inbox_in_globs(r: Reader, inbox: str, renditions: list, keep: tuple[str, ...]) -> None:
    """Warn of a subfolder glob that starts with the inbox's own name (`inbox/shoes/**`):
    globs are written from inside the inbox, so it takes only a folder of that name in it,
    and a shop admin's shoes rendition never applied, without a word."""
    written = [("keep_subfolders", glob) for glob in keep]
    for rend in renditions:
        if rend is not None and rend.when is not None:  # by its name: where its `when:` keys are placed
            written += _subfolder_globs(rend.when, f"renditions[{rend.name}].when")
    for at, glob in written:
        first, _, rest = glob.strip("/").partition("/")
        if first.lower() == inbox.lower() and rest:
            r.warn(at, f"{glob!r} starts with {first!r}, the inbox's own name: a subfolder glob is written from "
                       f"inside the inbox, so this one takes only a folder {first}/ in it; write {rest!r}")


def _subfolder_globs(when: conditions.When, at: str) -> Iterator[tuple[str, str]]:
    """(key, glob) of every `subfolder:` glob in `when`, in its `any:` and `not:` too."""
    for entry in when.entries:
        if isinstance(entry, conditions.Subfolder):
            yield from ((f"{at}.subfolder", glob) for glob in entry.globs)
        elif isinstance(entry, conditions.AnyOf):
            for j, option in enumerate(entry.options):
                yield from _subfolder_globs(option, f"{at}.any[{j}]")
        elif isinstance(entry, conditions.Not):
            yield from _subfolder_globs(entry.inner, f"{at}.not")


def _all_conditional(r: Reader, renditions: list) -> None:
    """Warn when every rendition has a `when:` and the folder does not say what becomes of a
    file none takes: it is archived unrendered, which a shop admin learnt only from `process`
    making nothing. Writing `on_no_rendition` (either value) says it is known: no warning."""
    read = [rend for rend in renditions if rend is not None]
    if not read or len(read) < len(renditions) or any(rend.when is None for rend in read):
        return
    if r.has("on_no_rendition"):
        return
    r.warn("renditions", "every rendition has a `when:`: a file none of them takes is archived with nothing "
                         "rendered (a `file_unmatched` log line). Add a rendition without `when:` for such files, "
                         "or write `on_no_rendition: archive` to say that is meant (no warning then), or "
                         "`on_no_rendition: fail` to have them in failed/ with the reason")


def _ext(rend) -> str:
    from hotfolder.engine import formats

    return formats.BY_NAME[rend.format].ext


def _fixed_name(rend) -> str | None:
    """The rendition's `filename` with its own name and extension put in, the photo's fields
    left as written; None where the name depends on the output in a way the text does not
    show (`format: same`, `{width}`, a spec or filter on `{rendition}` or `{ext}`)."""
    from hotfolder.engine import formats

    if rend.format == formats.SAME:  # its extension is the source's: not known here
        return None
    own = {"rendition": rend.name, "ext": _ext(rend)}
    out = []
    for part in templates.parsed(rend.filename).parts:
        if isinstance(part, str):
            out.append(part.replace("{", "{{").replace("}", "}}"))
        elif part.name in own and not part.spec and not part.filters:
            out.append(own[part.name])
        elif part.name in own or templates.FIELDS[part.name].output:
            return None
        else:
            out.append(str((part.name, part.spec, part.filters)))
    return "".join(out)
