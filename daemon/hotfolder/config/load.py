"""YAML config -> frozen dataclasses, validated.

Every error names the file, the key path and what to change. Relative paths are
resolved against the folder of the config file, so the same file works from any
working directory (and under systemd).
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import grp
import inspect
import os
import re
from pathlib import Path
from typing import Any

import yaml

from hotfolder import redact
from hotfolder.config import nesting, problems
from hotfolder.config.model import (
    ANIMATION,
    BYTE_UNITS,
    COLOR_PROFILES,
    CROPS,
    DEFAULT_FORMATS,
    DEFAULT_NOTIFY_EVENTS,
    FORMATS,
    HTTP_DEFAULT_HOST,
    INPUT_FORMATS,
    MAX_QUEUE_SIZE,
    METADATA,
    MIN_MAX_BYTES,
    NAME_CLASH,
    NOTIFY_EVENTS,
    ON_SUCCESS,
    OPERATIONS,
    POSITIONS,
    RAW_MODES,
    SET_METADATA_FIELDS,
    SET_METADATA_KEYS,
    SHARPEN_PRESETS,
    TEMPLATE_FIELDS,
    WATCH_MODES,
    WATERMARK_SIZE_OF,
    Cluster,
    Config,
    ConfigError,
    Folder,
    Http,
    NotifyTarget,
    Rendition,
    SetMetadata,
    Sharpen,
    Watermark,
)
from hotfolder.config.problems import Problem, Problems
from hotfolder.ops.web.auth import token_weakness
from hotfolder.ops.web.hosts import host_name_problem


class _Invalid(Exception):
    """A problem was recorded; stop reading this key, block or mapping."""


_DEFAULT = object()


def _per_key(fallback: Any = _DEFAULT):
    """Reads one key: after a problem, the key reads as `fallback` (by default the
    reader's own `default` argument), so the rest of the mapping is still checked."""
    def wrap(read):
        signature = inspect.signature(read)

        @functools.wraps(read)
        def checked(*args, **kwargs):
            try:
                return read(*args, **kwargs)
            except _Invalid:
                if fallback is not _DEFAULT:
                    return fallback(*args, **kwargs) if callable(fallback) else fallback
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                return bound.arguments.get("default")
        return checked
    return wrap


@contextlib.contextmanager
def _recorded():
    """Checks across keys: a problem found here is recorded, and what follows the block
    is still checked. A ConfigError raised here directly is recorded the same way."""
    try:
        yield
    except _Invalid:
        pass
    except ConfigError as exc:
        found = problems.CURRENT.get()
        if found is None:
            raise
        found.add(exc.key, exc.reason)


def _section(build):
    """Builds one mapping of the config (a folder, a rendition, …); None when it has
    problems (they are recorded), so the next mapping is still checked."""
    @functools.wraps(build)
    def checked(source, data, path, *args, **kwargs):
        found = problems.CURRENT.get()
        if found is None:
            return build(source, data, path, *args, **kwargs)
        before = len(found)
        try:
            return build(source, data, path, *args, **kwargs)
        except _Invalid:
            return None
        except ConfigError as exc:
            found.add(exc.key, exc.reason)
            return None
        except Exception:  # noqa: BLE001 - e.g. a default standing in for a bad key
            if len(found) > before:
                return None  # a consequence of a problem already recorded here
            raise
    return checked


def _built(sections) -> tuple:
    """The mappings that could be built (None: their problems are recorded)."""
    return tuple(s for s in sections if s is not None)


def _named(path: str, data: Any) -> str:
    """`folders[0]` → `folders[photos]` when the item has a name: what people look for."""
    m = re.fullmatch(r"(.*)\[\d+\]", path)
    name = data.get("name") if isinstance(data, dict) else None
    if m and isinstance(name, str) and name.strip():
        return f"{m.group(1)}[{name}]"
    return path


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


class _Reader:
    """Walks one mapping of the YAML, remembering the key path for messages."""

    def __init__(self, source: str, data: Any, path: str):
        self.source, self.path = source, _named(path, data)
        self.data = data if isinstance(data, dict) else {}
        self.used: set[str] = set()
        found = problems.CURRENT.get()
        if found is not None:
            self._register(found, path, data)
        if not isinstance(data, dict):
            self.fail("", f"must be a mapping of keys, not {_kind(data)}")

    def _register(self, found: Problems, path: str, data: Any) -> None:
        """Tell the collector where this mapping, its keys and their list items are."""
        mark = getattr(data, "mark", None)
        found.place(path, self.path, mark if mark is not None else found.locate(path)[1])
        for key, key_mark in getattr(data, "key_marks", {}).items():
            found.place(_join(path, key), self.key(str(key)), key_mark)
            value = data.get(key)
            for i, item_mark in enumerate(getattr(value, "item_marks", ())):
                found.place(f"{_join(path, key)}[{i}]", f"{self.key(str(key))}[{i}]", item_mark)

    def key(self, name: str) -> str:
        return _join(self.path, name)

    def fail(self, name: str, reason: str):
        key = self.key(name) if name else self.path
        found = problems.CURRENT.get()
        if found is None:
            raise ConfigError(self.source, key, reason)
        found.add(key, reason)
        raise _Invalid

    def has(self, name: str) -> bool:
        return name in self.data and self.data[name] is not None

    def raw(self, name: str, default: Any = None) -> Any:
        self.used.add(name)
        value = self.data.get(name)
        return default if value is None else value

    @_per_key()
    def str_(self, name, default=None, *, choices=None, required=False, secret=False):
        """secret: the value is never quoted in a message."""
        if required and not self.has(name):
            self.missing(name, "is required")
        value = self.raw(name, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(name, f"must be a non-empty text, not {_kind(value, secret)}")
        if choices and value not in choices:
            self.fail(name, f"{value!r} is not one of: {', '.join(choices)}")
        return value

    @_per_key()
    def bool_(self, name, default):
        value = self.raw(name, default)
        if not isinstance(value, bool):
            self.fail(name, f"must be true or false, not {_kind(value)}")
        return value

    @_per_key()
    def int_(self, name, default, *, lo=None, hi=None):
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"must be a whole number, not {_kind(value)}")
        _check_range(self, name, value, lo, hi)
        return value

    @_per_key()
    def float_(self, name, default, *, lo=None, hi=None):
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(name, f"must be a number, not {_kind(value)}")
        _check_range(self, name, value, lo, hi)
        return float(value)

    def path_(self, name, base: Path, default=None, required=False, folder=False):
        """A path, absolute and resolved. A `folder` of the daemon's own (inbox, output, …)
        must not be a symbolic link itself: anyone who can write beside it could point it
        elsewhere (its parents are resolved: a linked /srv is the admin's layout)."""
        value = self.str_(name, default, required=required)
        if value is None:
            return None
        p = Path(os.path.expanduser(value))
        p = p if p.is_absolute() else base / p
        if folder and p.name not in ("", ".", "..") and os.path.islink(p):
            self.fail(name, f"{p} is a symbolic link (to {os.readlink(p)}): name the real folder "
                            f"({p.resolve()}); the daemon never reaches its folders through a link")
        return p.resolve()

    def done(self):
        """Every key not read is unknown: each is reported."""
        for key in sorted(set(self.data) - self.used, key=str):
            with _recorded():
                close = difflib.get_close_matches(str(key), sorted(self.used), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                known = ", ".join(sorted(self.used))
                self.fail(str(key), f"unknown key ({hint}known keys here: {known})")

    def missing(self, name: str, what: str):
        """A required key is absent: point at a misspelling of it, if there is one."""
        close = difflib.get_close_matches(name, [str(k) for k in self.data], n=1)
        if close:
            self.used.add(close[0])  # said here; not again as an unknown key
            self.fail(close[0], f"unknown key (did you mean {name!r}?); {name} {what}")
        self.fail(name, what)


def _check_range(r: _Reader, name, value, lo, hi):
    if lo is not None and value < lo:
        r.fail(name, f"must be at least {lo}, not {value}")
    if hi is not None and value > hi:
        r.fail(name, f"must be at most {hi}, not {value}")


def _kind(value: Any, secret: bool = False) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {redact.MASK if secret else value}"
    if isinstance(value, str):
        return f"the text {redact.MASK if secret and value.strip() else repr(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@_per_key((None, None))
def _size(r: _Reader, name: str) -> tuple[int | None, int | None]:
    """`size: 1600`, `size: 1600x1200`, `size: [1600, 1200]`; 0 or null leaves a side free."""
    value = r.raw(name)
    if value is None:
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        parts = [value, value]
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*[xX×]\s*\d+\s*", value):
        parts = [int(v) for v in re.split(r"[xX×]", value)]
    elif isinstance(value, list) and len(value) == 2:
        parts = value
    else:
        r.fail(name, f"must be WIDTHxHEIGHT (e.g. 1600x1200), a number, or [width, height], not {_kind(value)}")
    out = []
    for side in parts:
        if side is None:
            out.append(None)
            continue
        if isinstance(side, bool) or not isinstance(side, int) or side < 0 or side > 65535:
            r.fail(name, f"each side must be a whole number of pixels from 1 to 65535, not {_kind(side)}")
        out.append(side or None)
    return out[0], out[1]


@_per_key((255, 255, 255))
def _color(r: _Reader, name: str, default: str) -> tuple[int, int, int]:
    value = r.str_(name, default)
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        r.fail(name, f"must be a colour like '#ffffff', not {value!r}")
    return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@_section
def _watermark(source: str, data: Any, path: str, base: Path) -> Watermark:
    r = _Reader(source, data, path)
    text = r.str_("text")
    image = r.path_("image", base)
    if (text is None) == (image is None):
        r.fail("", "needs exactly one of `text` or `image`")
    if image is not None and not image.is_file():
        r.fail("image", f"file {image} does not exist")
    wm = Watermark(
        text=text,
        image=image,
        position=r.str_("position", "bottom-right", choices=POSITIONS),
        opacity=r.float_("opacity", 0.5, lo=0.0, hi=1.0),
        margin=r.float_("margin", 0.02, lo=0.0, hi=0.45),
        size=r.float_("size", 0.25, lo=0.01, hi=1.0),
        size_of=r.str_("size_of", "shorter", choices=WATERMARK_SIZE_OF),
    )
    r.done()
    return wm


@_section
def _rendition(source: str, data: Any, path: str, base: Path) -> Rendition:
    r = _Reader(source, data, path)
    name = r.str_("name", required=True)
    with _recorded():
        if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            r.fail("name", f"{name!r} may only hold letters, digits, '_', '-' and '.'")
    operation = r.str_("operation", "fit", choices=OPERATIONS)
    width, height = _size(r, "size")
    scale = r.float_("scale", 1.0, lo=0.001, hi=16.0) if r.has("scale") else None
    with _recorded():
        if operation == "fit" and width is None and height is None:
            r.fail("size", "is required for operation fit (e.g. size: 1600x1600)")
        if operation == "fill" and (width is None or height is None):
            r.fail("size", "needs both width and height for operation fill (e.g. size: 400x400)")
        if operation == "scale" and scale is None:
            r.fail("scale", "is required for operation scale (e.g. scale: 0.5)")
        if operation != "scale" and scale is not None:
            r.fail("scale", f"only applies to operation scale, not {operation}")
        if operation in ("none", "scale") and r.has("size"):
            r.fail("size", f"does not apply to operation {operation}")
    filename = r.str_("filename", "{stem}_{rendition}.{ext}")
    _check_template(r, "filename", filename)
    wm = _watermark(source, r.raw("watermark"), r.key("watermark"), base) if r.has("watermark") else None
    rendition = Rendition(
        name=name,
        operation=operation,
        width=width,
        height=height,
        scale=scale,
        format=r.str_("format", "same", choices=FORMATS),
        quality=r.int_("quality", 85, lo=1, hi=100),
        watermark=wm,
        filename=filename,
        orient=r.bool_("orient", True),
        metadata=r.str_("metadata", "strip-gps", choices=METADATA),
        upscale=r.bool_("upscale", False),
        background=_color(r, "background", "#ffffff"),
        sharpen=_sharpen(source, r, "sharpen"),
        crop=r.str_("crop", "center", choices=CROPS),
        set_metadata=_set_metadata_of(source, r, "set_metadata"),
        max_bytes=_byte_size(r, "max_bytes"),
        progressive=r.bool_("progressive", False),
        color_profile=_color_profile(r, "color_profile", base),
    )
    _check_output_keys(r, rendition)
    r.done()
    return rendition


@_per_key("srgb")
def _color_profile(r: _Reader, name: str, base: Path) -> str:
    """`srgb`, `keep`, or an ICC profile file (relative to the config), checked now: it
    must exist and be an RGB profile LittleCMS can read (the outputs are RGB)."""
    value = r.str_(name, "srgb")
    if value in COLOR_PROFILES:
        return value
    path = r.path_(name, base)
    from hotfolder.engine.colour import profile_problem  # LittleCMS, only when a path is given

    problem = profile_problem(path)
    if problem:
        r.fail(name, f"{value!r} is not srgb, keep, or a usable ICC profile: {problem}")
    return str(path)


@_per_key(None)
def _sharpen(source: str, r: _Reader, name: str) -> Sharpen | None:
    """`sharpen: none | low | standard | high`, or `{radius, amount, threshold}`."""
    value = r.raw(name)
    if value is None or value is False or value == "none":  # `sharpen: off` is YAML's false
        return None
    if isinstance(value, str) and value in SHARPEN_PRESETS:
        return SHARPEN_PRESETS[value]
    if isinstance(value, dict):
        return _sharpen_mapping(source, value, r.key(name))
    r.fail(name, f"must be one of: none, {', '.join(SHARPEN_PRESETS)}, or a mapping "
                 f"{{radius, amount, threshold}}, not {_kind(value)}")


@_section
def _sharpen_mapping(source: str, data: Any, path: str) -> Sharpen:
    r = _Reader(source, data, path)
    like = SHARPEN_PRESETS["standard"]  # what a key left out reads as
    sharpen = Sharpen(
        radius=r.float_("radius", like.radius, lo=0.1, hi=5.0),
        amount=r.float_("amount", like.amount, lo=0.01, hi=5.0),
        threshold=r.int_("threshold", like.threshold, lo=0, hi=255),
    )
    r.done()
    return sharpen


def _set_metadata_of(source: str, r: _Reader, name: str) -> SetMetadata | None:
    data = r.raw(name)  # read even when absent: a misspelt key is then told about it
    return None if data is None else _set_metadata(source, data, r.key(name))


@_section
def _set_metadata(source: str, data: Any, path: str) -> SetMetadata:
    r = _Reader(source, data, path)
    given = [key for key in SET_METADATA_KEYS if r.has(key)]
    values = {key: _metadata_text(r, key) for key in SET_METADATA_KEYS}
    r.done()
    if not given:
        r.fail("", f"needs at least one of: {', '.join(SET_METADATA_KEYS)}")
    return SetMetadata(**values)


@_per_key(None)
def _metadata_text(r: _Reader, name: str) -> str | None:
    value = r.raw(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # `credit: 2026` is meant as text
    if not isinstance(value, str) or not value.strip():
        r.fail(name, f"must be a non-empty text, not {_kind(value)}")
    if len(value) > 2000:
        r.fail(name, f"is {len(value)} characters; 2000 at most")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        r.fail(name, "holds a control character, which XMP cannot carry; remove it")
    fields = {m.group(1) for m in re.finditer(r"\{([^{}]*)\}", value)}
    unknown = fields - SET_METADATA_FIELDS
    if unknown:
        r.fail(name, f"unknown field {{{sorted(unknown)[0]}}}; use {{year}} (the year the photo was taken) "
                     f"or {{folder}}, and {{{{ }}}} for a literal brace")
    try:
        value.format(year="2026", folder="x")
    except (KeyError, ValueError, IndexError) as exc:
        r.fail(name, f"{value!r} is not a valid template ({exc}); fields: {{year}}, {{folder}}")
    return value


@_per_key(None)
def _byte_size(r: _Reader, name: str) -> int | None:
    """`max_bytes: 500000`, `500KB`, `1.5 MB`, `512KiB`, `2MiB` (KB = 1000 bytes, KiB = 1024)."""
    value = r.raw(name)
    if value is None:
        return None
    example = "e.g. 500KB, 1.5MB, 512KiB or a number of bytes"
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)):
        unit = m.group(2).lower()
        if unit not in BYTE_UNITS:
            r.fail(name, f"unknown unit {m.group(2)!r} in {value!r}; use B, KB, MB, KiB or MiB ({example})")
        size = int(float(m.group(1)) * BYTE_UNITS[unit])
    else:
        r.fail(name, f"must be a size, {example}, not {_kind(value)}")
    if size < MIN_MAX_BYTES:
        r.fail(name, f"is {size} bytes; at least {MIN_MAX_BYTES} (1KB), or no image fits")
    if size > 2**30:
        r.fail(name, f"is {size:,} bytes; at most 1GiB")
    return size


def _check_output_keys(r: _Reader, rendition: Rendition) -> None:
    """Keys that only apply to some operations or formats."""
    with _recorded():
        if r.has("crop") and rendition.operation != "fill":
            r.fail("crop", f"only applies to operation fill (operation {rendition.operation} crops nothing)")
    with _recorded():
        if rendition.max_bytes is not None and rendition.format not in ("jpeg", "webp", "avif"):
            why = ("PNG has no quality to lower" if rendition.format == "png" else
                   "format same writes PNG for PNG, TIFF, GIF and BMP sources, and PNG has no quality to lower")
            r.fail("max_bytes", f"needs format jpeg, webp or avif: {why}")
    with _recorded():
        if rendition.progressive and rendition.format not in ("jpeg", "same"):
            r.fail("progressive", f"only applies to JPEG outputs, not format {rendition.format}")


@_per_key(None)
def _check_template(r: _Reader, name: str, template: str):
    fields = {m.group(1) for m in re.finditer(r"\{([^{}]*)\}", template)}
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        r.fail(name, f"unknown field {{{sorted(unknown)[0]}}}; use {', '.join('{' + f + '}' for f in sorted(TEMPLATE_FIELDS))}")
    try:
        template.format(**{f: "x" for f in TEMPLATE_FIELDS})
    except (KeyError, ValueError, IndexError) as exc:
        r.fail(name, f"{template!r} is not a valid template ({exc}); fields: {', '.join(sorted(TEMPLATE_FIELDS))}")
    if "/" in template.replace("{folder}", "") or template.startswith("."):
        r.fail(name, f"{template!r} must name a file, not a path or a hidden file")
    if "{stem}" not in template and "{name}" not in template:
        r.fail(name, f"{template!r} must contain {{stem}} or {{name}}, or every input would write the same file")


@_per_key(0o644)
def _mode(r: _Reader, name: str) -> int:
    value = r.raw(name, "0644")
    if isinstance(value, int) and not isinstance(value, bool):
        # Unquoted, YAML reads 0644 as octal (420) but 644 as decimal (644): a number
        # above 0o777 can only be digits meant as octal. (Quote it to be sure.)
        value = str(value) if value > 0o777 else f"{value:o}"
    if not isinstance(value, str) or not re.fullmatch(r"0?[0-7]{3}", value):
        r.fail(name, f"must be an octal file mode in quotes, like '0644', not {_kind(value)}")
    return int(value, 8)


@_section
def _folder(source: str, data: Any, path: str, base: Path, index: int) -> Folder:
    r = _Reader(source, data, path)
    inbox = r.path_("inbox", base, required=True, folder=True)
    beside = inbox.parent if inbox else base  # a missing inbox is reported; the rest is still checked
    name = r.str_("name", inbox.name if inbox and inbox.name != "inbox" else beside.name)
    on_success = r.str_("on_success", "archive", choices=ON_SUCCESS)
    archive = r.path_("archive", base, folder=True)
    with _recorded():
        if on_success == "archive" and archive is None:
            r.fail("archive", "is required unless on_success: delete")
        if on_success == "delete" and archive is not None:
            r.fail("archive", "must be left out when on_success: delete (or set on_success: archive)")
    items = r.raw("renditions")
    with _recorded():
        if not isinstance(items, list) or not items:
            r.fail("renditions", "must be a non-empty list of renditions")
    renditions = tuple(
        _rendition(source, item, f"{r.key('renditions')}[{i}]", base)
        for i, item in enumerate(items if isinstance(items, list) else [])
    )
    seen: set[str] = set()
    for i, rend in enumerate(renditions):
        if rend is None:  # its problems are reported already
            continue
        if rend.name in seen:
            with _recorded():
                r.fail(f"renditions[{i}].name", f"{rend.name!r} is used twice in this folder")
        seen.add(rend.name)
    renditions = _built(renditions)
    folder = Folder(
        name=name,
        inbox=inbox,
        output=r.path_("output", base, required=True, folder=True),
        failed=r.path_("failed", base, required=True, folder=True),
        processing=r.path_("processing", base, default=str(beside / "processing"), folder=True),
        archive=archive,
        renditions=renditions,
        on_success=on_success,
        watch=r.str_("watch", "auto", choices=WATCH_MODES),
        quiet_period=r.float_("quiet_period", 0.1, lo=0.0, hi=3600),
        rescan_interval=r.float_("rescan_interval", 30.0, lo=0.1, hi=86400),
        output_mode=_mode(r, "output_mode"),
        output_group=_group(r, "output_group"),
        animation=r.str_("animation", "first-frame", choices=ANIMATION),
        on_name_clash=r.str_("on_name_clash", "suffix", choices=NAME_CLASH),
        raw=r.str_("raw", "auto", choices=RAW_MODES),
    )
    r.done()
    _check_folder_dirs(source, path, folder)
    return folder


def temp_token_for(scope: str) -> str:
    """A token of this daemon's (its state_dir, or its cluster), stable across restarts:
    our temp files carry it, so no file of a user's can be taken for one by accident."""
    import hashlib

    return hashlib.sha256(scope.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _with_runtime_paths(folders: tuple[Folder, ...], state_dir: Path, cluster: "Cluster") -> tuple[Folder, ...]:
    """The temp token and the name-ownership folder: per cluster when one shares the
    outputs (every node must agree), else per daemon."""
    if cluster.enabled:
        token = temp_token_for(f"cluster:{cluster.cluster_id}")
        names = cluster.shared_root / ".hotfolder" / "names"
    else:
        token, names = temp_token_for(str(state_dir)), state_dir / "names"
    return tuple(dataclasses.replace(f, temp_token=token, names_dir=names) for f in folders)


@_per_key(None)
def _group(r: _Reader, name: str) -> str | None:
    value = r.raw(name)
    if value is None:
        return None
    value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(value, str) or not value.strip():
        r.fail(name, f"must be a group name or number, not {_kind(value)}")
    if not value.isdigit():
        try:
            grp.getgrnam(value)
        except KeyError:
            r.fail(name, f"there is no group {value!r} on this machine (create it, or fix the name)")
    return value


def _device(path: Path) -> int:
    """The file system of path, or of its nearest existing parent (folders are made at start)."""
    for p in (path, *path.parents):
        try:
            return os.stat(p).st_dev
        except OSError:
            continue
    return -1


def _blocker(path: Path) -> Path | None:
    """What stops `path` from being (made) a folder: itself or a parent that exists and
    is not a folder (a file where a folder should be). None when it can be made."""
    for p in (path, *path.parents):
        if p.exists():
            return None if p.is_dir() else p
        if p.is_symlink():  # a dangling link
            return p
    return None


def _check_folder_dirs(source: str, path: str, folder: Folder):
    for key in ("inbox", "output", "failed", "processing", "archive"):
        p = getattr(folder, key)
        blocker = _blocker(p) if p is not None else None
        if blocker is not None:
            what = "is a file, not a folder" if blocker == p else f"cannot be made: {blocker} is a file, not a folder"
            raise ConfigError(source, f"{path}.{key}", f"{p} {what}; point {key} at a folder")
    # Originals move by rename(2), which cannot cross file systems.
    inbox_dev = _device(folder.inbox)
    for key in ("processing", "archive", "failed"):
        p = getattr(folder, key)
        if p is not None and _device(p) != inbox_dev:
            raise ConfigError(source, f"{path}.{key}", f"{p} is on another file system than the inbox "
                              f"({folder.inbox}); originals move between them by rename, which cannot cross "
                              f"file systems: put it on the same disk (outputs may go anywhere)")


def parse(text: str, source: str = "<config>", base: Path | None = None) -> Config:
    """The config in `text`; a ConfigError holding every problem found if it is not usable."""
    try:
        data = problems.load_marked(text)
    except yaml.YAMLError as exc:
        line, column = problems.position(getattr(exc, "problem_mark", None))
        reason = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        started = problems.position(getattr(exc, "context_mark", None))[0]
        if getattr(exc, "context", None) and started and started != line:  # e.g. an unclosed [ or quote
            reason += f" ({exc.context} that starts at line {started})"
        if "'\\t'" in reason:
            reason += "; YAML indents with spaces, not tabs"
        raise ConfigError(source, "", reason, (Problem(source, "", reason, line, column),)) from None
    if data is None:
        raise ConfigError(source, "", "is empty; see config/hotfolder.yaml for an example")
    found = Problems(source)
    token = problems.CURRENT.set(found)
    try:
        config = _config(source, data, "", base or Path.cwd())
    finally:
        problems.CURRENT.reset(token)
    if found:
        raise ConfigError.of(found.in_order())
    redact.register(redact.secrets_in(config))  # the log's last line of defence knows them from now on
    return config


@_section
def _config(source: str, data: Any, path: str, base: Path) -> Config:
    r = _Reader(source, data, path)
    workers_raw = r.raw("workers", "auto")
    workers = os.cpu_count() or 1 if workers_raw == "auto" else r.int_("workers", 1, lo=1, hi=256)
    formats = r.raw("accepted_formats", list(DEFAULT_FORMATS))
    with _recorded():
        if not isinstance(formats, list) or not formats:
            r.fail("accepted_formats", f"must be a non-empty list, e.g. [{', '.join(DEFAULT_FORMATS)}]")
        formats = tuple(str(f).lower() for f in formats)
        for f in formats:
            if f not in INPUT_FORMATS:
                r.fail("accepted_formats", f"{f!r} is not one of: {', '.join(INPUT_FORMATS)}")
    items = r.raw("folders")
    with _recorded():
        if items is None:
            r.missing("folders", "is required: a list of watched folders")
        if not isinstance(items, list) or not items:
            r.fail("folders", "must be a non-empty list of watched folders")
    folders = tuple(_folder(source, item, f"folders[{i}]", base, i)
                    for i, item in enumerate(items if isinstance(items, list) else []))
    with _recorded():
        _check_across_folders(source, folders)
    folders = _built(folders)
    config = Config(
        source=Path(source).resolve() if source != "<config>" else Path(source),
        folders=folders,
        workers=workers,
        max_image_pixels=r.int_("max_image_pixels", 120_000_000, lo=1, hi=2**40),
        accepted_formats=formats,
        state_dir=r.path_("state_dir", base, default="var/state"),
        queue_size=r.int_("queue_size", 0, lo=0, hi=MAX_QUEUE_SIZE),
        drain_timeout=r.float_("drain_timeout", 30.0, lo=0.1, hi=3600),
        file_timeout=r.float_("file_timeout", 120.0, lo=0.1, hi=86400),
        max_attempts=r.int_("max_attempts", 3, lo=1, hi=100),
        reload_on_change=r.bool_("reload_on_change", False),
        cluster=_cluster(source, r.raw("cluster", {}), "cluster", base, folders),
        http=_http(source, r.raw("http"), "http") if r.has("http") else None,
        notify=_notify(source, r.raw("notify", []), "notify") or (),
        notify_interval=r.float_("notify_interval", 30.0, lo=1, hi=86400),
    )
    r.done()
    config = dataclasses.replace(config, folders=_with_runtime_paths(config.folders, config.state_dir, config.cluster))
    for reason in nesting.state_dir_problems(config.state_dir, config.folders):
        with _recorded():
            raise ConfigError(source, "state_dir", reason)
    blocker = _blocker(config.state_dir)
    if blocker is not None:
        raise ConfigError(source, "state_dir", f"{config.state_dir} cannot be a folder: {blocker} is a file")
    return config


@_per_key(lambda r, name, value: value)
def _expand_env(r: _Reader, name: str, value: str) -> str:
    def sub(m):
        if m.group(1) not in os.environ:
            r.fail(name, f"uses ${{{m.group(1)}}}, but that environment variable is not set")
        return os.environ[m.group(1)]
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, value)


@_section
def _cluster(source: str, data: Any, path: str, base: Path, folders: tuple[Folder, ...]) -> Cluster:
    r = _Reader(source, data, path)
    enabled = r.bool_("enabled", False)
    url = r.str_("broker_url", required=enabled)
    if url is not None:
        url = _expand_env(r, "broker_url", url) if enabled else url
        if not url.startswith(("redis://", "rediss://", "unix://")):
            r.fail("broker_url", f"must be a redis://, rediss:// or unix:// URL, not {redact.url(url)!r}")
    ident = r.str_("cluster_id", required=enabled)
    for name, value in (("cluster_id", ident), ("queue", r.str_("queue", "hotfolder"))):
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
            r.fail(name, f"{value!r} may only hold letters, digits, '_', '-' and '.' (64 at most)")
    root = r.path_("shared_root", base, required=enabled)
    raw_map = r.raw("path_map", {})
    if not isinstance(raw_map, dict):
        r.fail("path_map", f"must be a mapping of head path: this node's path, not {_kind(raw_map)}")
    pairs = []
    for k, v in raw_map.items():
        if not isinstance(k, str) or not isinstance(v, str) or not k.startswith("/") or not v.startswith("/"):
            r.fail("path_map", f"{k!r}: {v!r}: both sides must be absolute paths")
        pairs.append((Path(k), Path(v)))
    hard = r.float_("task_time_limit", 300.0, lo=1, hi=86400)
    soft = r.float_("task_soft_time_limit", hard * 0.8, lo=0.5, hi=86400)
    if soft >= hard:
        r.fail("task_soft_time_limit", f"must be below task_time_limit ({hard:g}), so the task can "
                                       "move the file to failed/ itself before it is killed")
    vis = r.float_("visibility_timeout", 900.0, lo=1, hi=7 * 86400)
    stale = r.float_("stale_after", vis + 300, lo=1, hi=7 * 86400)
    if stale < vis:
        r.fail("stale_after", f"must be at least visibility_timeout ({vis:g}); sooner, the reconciler "
                              "would re-send jobs Redis still holds")
    lease = r.float_("lease_ttl", 60.0, lo=1, hi=3600)
    if lease >= stale:
        r.fail("lease_ttl", f"must be below stale_after ({stale:g})")
    cluster = Cluster(
        enabled=enabled, broker_url=url or "", queue=r.str_("queue", "hotfolder"), cluster_id=ident or "",
        shared_root=root, path_map=tuple(sorted(pairs, key=lambda p: -len(p[0].parts))),
        task_time_limit=hard, task_soft_time_limit=soft, visibility_timeout=vis, lease_ttl=lease,
        max_attempts=r.int_("max_attempts", 3, lo=1, hi=100),
        reconcile_interval=r.float_("reconcile_interval", 60.0, lo=0.1, hi=3600),
        stale_after=stale,
        max_in_flight=r.int_("max_in_flight", 64, lo=1, hi=100_000),
        concurrency=r.int_("concurrency", 0, lo=0, hi=256),
        max_tasks_per_child=r.int_("max_tasks_per_child", 200, lo=0, hi=10**9),
        max_memory_per_child_mb=r.int_("max_memory_per_child_mb", 1024, lo=0, hi=10**6),
    )
    r.done()
    if enabled:
        for i, folder in enumerate(folders):
            for name in ("processing", "output", "failed", "archive"):
                d = getattr(folder, name)
                if d is not None and not d.is_relative_to(root):
                    raise ConfigError(source, f"folders[{i}].{name}",
                                      f"{d} is outside cluster.shared_root ({root}); every worker must reach it")
    return cluster


@_section
def _http(source: str, data: Any, path: str) -> Http:
    if isinstance(data, (int, str)) and not isinstance(data, bool):
        data = {"listen": data}  # `http: 9464` or `http: "127.0.0.1:9464"`
    r = _Reader(source, data, path)
    listen = r.raw("listen", 9464)
    host, port = _listen_address(r, "listen", listen)
    token = r.str_("token", secret=True) or ""
    if token:
        token = _expand_env(r, "token", token)
        weakness = token_weakness(token)
        if weakness:
            r.fail("token", weakness)
    http = Http(host=host, port=port, token=token, allowed_hosts=_allowed_hosts(r, "allowed_hosts"),
                max_connections=r.int_("max_connections", 64, lo=1, hi=10_000),
                request_timeout=r.float_("request_timeout", 10.0, lo=1, hi=600))
    r.done()
    return http


@_per_key(())
def _allowed_hosts(r: _Reader, name: str) -> tuple[str, ...]:
    value = r.raw(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        r.fail(name, f"must be a list of host names, e.g. [studio.example], not {_kind(value)}")
    for i, item in enumerate(value):
        problem = host_name_problem(item)
        if problem:
            r.fail(f"{name}[{i}]", problem)
    return tuple(value)


@_per_key(lambda r, name, value: (HTTP_DEFAULT_HOST, 9464))
def _listen_address(r: _Reader, name: str, value: Any) -> tuple[str, int]:
    """`9464` (loopback), `"host:port"`, `"[::1]:9464"`; a bare IPv6 address needs its brackets."""
    import ipaddress

    example = 'e.g. 9464, "127.0.0.1:9464", "0.0.0.0:9464" or "[::1]:9464"'
    if isinstance(value, int) and not isinstance(value, bool):
        host, port_text = HTTP_DEFAULT_HOST, str(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        m = re.fullmatch(r"\[([0-9A-Fa-f:.%\w]+)\]:(\d+)", text)
        if m:
            host, port_text = m.group(1), m.group(2)
        elif text.isdigit():
            host, port_text = HTTP_DEFAULT_HOST, text
        elif text.count(":") == 1:
            host, port_text = text.split(":")
        elif text.count(":") > 1:
            r.fail(name, f"{text!r}: put an IPv6 address in brackets, as in \"[::1]:9464\"")
        else:
            r.fail(name, f"{text!r} has no port; {example}")
    else:
        r.fail(name, f"must be a port or host:port ({example}), not {_kind(value)}")
    if not port_text.isdigit() or int(port_text) > 65535:
        r.fail(name, f"{port_text!r} is not a port number from 0 to 65535; {example}")
    host = host or HTTP_DEFAULT_HOST  # ":9464" too: every address only when asked for, as "0.0.0.0:9464"
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        if host != "localhost":
            r.fail(name, f"{host!r} is not an IP address (or localhost); {example}")
    if ":" in host and not (isinstance(value, str) and "[" in value):
        r.fail(name, f"put the IPv6 address {host} in brackets, as in \"[{host}]:{port_text}\"")
    return host, int(port_text)


@_section
def _notify(source: str, data: Any, path: str) -> tuple[NotifyTarget, ...]:
    if not isinstance(data, list):
        raise ConfigError(source, path, f"must be a list of {{url, events, secret}} items, not {_kind(data)}")
    return _built(_notify_target(source, item, f"{path}[{i}]") for i, item in enumerate(data))


@_section
def _notify_target(source: str, data: Any, path: str) -> NotifyTarget:
    r = _Reader(source, data, path)
    url = _expand_env(r, "url", r.str_("url", required=True).strip())
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        r.fail("url", f"{redact.url(url)[:60]!r} is not a URL; e.g. https://hooks.example.com/hotfolder, "
                      "mailto://user:password@example.com, ntfy://topic")
    events = r.raw("events", list(DEFAULT_NOTIFY_EVENTS))
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events:
        r.fail("events", f"must be a non-empty list of: {', '.join(NOTIFY_EVENTS)}")
    for event in events:
        if event not in NOTIFY_EVENTS:
            r.fail("events", f"{event!r} is not one of: {', '.join(NOTIFY_EVENTS)}")
    secret = r.str_("secret", secret=True) or ""
    if secret:
        secret = _expand_env(r, "secret", secret)
    target = NotifyTarget(url=url, events=tuple(dict.fromkeys(events)), secret=secret)
    if target.is_webhook:
        from urllib.parse import urlsplit

        if not urlsplit(url).hostname:
            r.fail("url", f"{target.shown} has no host name")
    else:
        if secret:
            r.fail("secret", f"only applies to http:// and https:// URLs (signing the JSON body), not {scheme}://")
        _check_apprise_url(r, url, scheme)
    r.done()
    return target


def _check_apprise_url(r: _Reader, url: str, scheme: str) -> None:
    """Other schemes go through apprise: it must be installed and know the URL."""
    apprise = redact.apprise_module()  # silenced: it logs the URLs it refuses, tokens and all
    if apprise is None:
        r.fail("url", f"{scheme}:// URLs are sent through apprise, which is not installed (pip install apprise)")
    if apprise.Apprise.instantiate(url, asset=apprise.AppriseAsset(storage_mode="memory")) is None:
        r.fail("url", f"apprise does not accept this {scheme}:// URL; see https://github.com/caronc/apprise/wiki "
                      "for the form of each service's URL")


def _check_across_folders(source: str, folders: tuple[Folder, ...]):
    names: dict[str, int] = {}
    for i, folder in enumerate(folders):
        if folder is None:  # its problems are reported already
            continue
        if folder.name in names:
            with _recorded():
                raise ConfigError(source, f"folders[{i}].name",
                                  f"{folder.name!r} is used by folders[{names[folder.name]}] too")
        names.setdefault(folder.name, i)
    for key, reason in nesting.problems(folders):  # folders inside folders, and cycles of chains
        with _recorded():
            raise ConfigError(source, key, reason)


def status_file_of(path: str | os.PathLike) -> Path:
    """Where the daemon of this config keeps its status, even if the rest of the file
    is invalid (`hotfolder status` must work right after a refused reload), or the file
    is gone (then a daemon running on it is asked: see _running_daemon_state_dir)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError:
        running = _running_daemon_state_dir(p)
        if running is not None:
            return running / "status.json"
        data = None
    except yaml.YAMLError:
        data = None
    state_dir = data.get("state_dir") if isinstance(data, dict) else None
    if not isinstance(state_dir, str):
        state_dir = "var/state"
    state = Path(os.path.expanduser(state_dir))
    return ((state if state.is_absolute() else p.resolve().parent / state) / "status.json").resolve()


def _running_daemon_state_dir(config: Path) -> Path | None:
    """The state_dir of a running `hotfolder run` on `config`, found through /proc: it
    holds the instance lock `state_dir/hotfolder.lock` open, and the status it keeps
    there names its config (however it found it: --config, $HOTFOLDER_CONFIG, the usual
    places). None if there is none (or /proc does not let us look: another user's)."""
    import json

    target = os.path.realpath(config)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            if b"run" not in argv or not any(b"hotfolder" in a for a in argv):
                continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                held = os.readlink(f"/proc/{entry}/fd/{fd}")
                if held.endswith("/hotfolder.lock"):
                    state_dir = Path(held).parent
                    status = json.loads((state_dir / "status.json").read_text(encoding="utf-8"))
                    if os.path.realpath(status.get("config", "")) == target:
                        return state_dir
        except (OSError, ValueError):
            continue
    return None


def load(path: str | os.PathLike) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), "", f"cannot read the config file: {exc.strerror or exc}") from None
    return parse(text, str(p), p.resolve().parent)


# Set from elsewhere, not read from the file: no news to a person reloading it.
_DERIVED_FIELDS = {"source", "renditions", "temp_token", "names_dir"}


def describe_changes(old: Config, new: Config) -> list[str]:
    """What a reload changes, for people: `workers 2 → 1`, `folder shop added`,
    `photos: rendition tiny added`, `photos: web: quality 85 → 70`, `http.token changed`
    (a secret's value is never said); [] when nothing."""
    changes = _changed_fields(dataclasses.replace(old, folders=(), notify=()),
                              dataclasses.replace(new, folders=(), notify=()))
    for i in range(max(len(old.notify), len(new.notify))):
        a = old.notify[i] if i < len(old.notify) else None
        b = new.notify[i] if i < len(new.notify) else None
        if a is None or b is None:
            changes.append(f"notify[{i}] {'added' if a is None else 'removed'}: {(b or a).shown}")
        else:
            changes += [f"notify[{i}]: {c}" for c in _changed_fields(a, b)]
    before = {f.name: f for f in old.folders}
    after = {f.name: f for f in new.folders}
    changes += [f"folder {name} added" for name in after if name not in before]
    changes += [f"folder {name} removed" for name in before if name not in after]
    for name in (n for n in after if n in before):
        changes += [f"{name}: {c}" for c in _changed_fields(before[name], after[name])]
        old_r = {r.name: r for r in before[name].renditions}
        new_r = {r.name: r for r in after[name].renditions}
        changes += [f"{name}: rendition {r} added" for r in new_r if r not in old_r]
        changes += [f"{name}: rendition {r} removed" for r in old_r if r not in new_r]
        changes += [f"{name}: {r}: {c}" for r in new_r if r in old_r for c in _changed_fields(old_r[r], new_r[r])]
    return changes


def _changed_fields(old, new, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if f.name in _DERIVED_FIELDS or a == b:
            continue
        if f.metadata.get("secret"):
            out.append(f"{prefix}{f.name} {_secret_change(f, a, b)}")
        elif dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):  # a watermark, the cluster
            out += _changed_fields(a, b, f"{prefix}{f.name}.")
        elif dataclasses.is_dataclass(a) or dataclasses.is_dataclass(b):
            out.append(f"{prefix}{f.name} {'added' if a is None else 'removed'}")
        else:
            out.append(f"{prefix}{f.name} {_show(a)} → {_show(b)}")
    return out


def _secret_change(f: dataclasses.Field, a: Any, b: Any) -> str:
    """`changed`, `set`, `removed`; a URL's shown parts when they changed. Never a value."""
    if not a or not b:
        return "set" if b else "removed"
    shown_a, shown_b = redact.shown(f, a), redact.shown(f, b)
    return f"{shown_a} → {shown_b}" if shown_a != shown_b else "changed"


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "none" if value is None else str(value)
