"""Where each key belongs, for one written in another mapping: `quiet_period:` at the top of
the file, `workers:` on a folder, `opacity:` beside a rendition's `format:`, `size:` under its
`when:`. Each was "unknown key" with the keys of the place it was written in, and no word of
where it goes (an admin's afternoon). `Reader.done(elsewhere=...)` says it.

The sections import one another, so their keys are looked up when first asked for."""
from __future__ import annotations

import functools

_TOP = "a top-level key, not {here}: write it at the start of a line, outside `folders:`"
_FOLDER = "a folder's key, not {here}: set it on the folder it is for, in `folders:`, beside its `inbox:`"
_RENDITION = "a rendition's key, not {here}: set it in the `renditions:` entries it is for"
_WATERMARK = "a watermark's key: put it under the rendition's `watermark:`"


def _names(keys) -> set[str]:
    return {key.name for key in keys}


def _where(own: set[str], *places: tuple[set[str], str], here: str) -> dict[str, str]:
    """Each key of `places` not in `own`, with the first place's word that has it."""
    out: dict[str, str] = {}
    for names, said in places:
        for name in sorted(names - own):
            out.setdefault(name, said.format(here=here))
    return out


@functools.cache
def _sections() -> tuple[set[str], set[str], set[str], set[str], set[str]]:
    from hotfolder.config.sections import daemon, folder, rendition, when
    from hotfolder.config.sections.steps import watermark

    return (_names(daemon.KEYS), _names(folder.KEYS), _names(rendition.KEYS), _names(when.KEYS),
            _names(watermark.MAPPING_KEYS))


@functools.cache
def top() -> dict[str, str]:
    """Keys written at the top level that belong to a folder or a rendition."""
    top_, folder, rendition, _, _ = _sections()
    return _where(top_, (folder, _FOLDER), (rendition, _RENDITION), here="a top-level one")


@functools.cache
def folder() -> dict[str, str]:
    top_, folder_, rendition, _, _ = _sections()
    return _where(folder_, (rendition, _RENDITION), (top_, _TOP), here="the folder's")


@functools.cache
def rendition() -> dict[str, str]:
    """A folder's keys first (`manifest:` under a rendition), then a condition's, a
    watermark's (`opacity`, `text`), the top level's."""
    top_, folder_, rendition_, when, watermark = _sections()
    folders = {name: f"the folder's key, not a rendition's (a rendition has no {name} of its own): set it on the "
                     "folder, beside `renditions:`" for name in sorted(folder_ - rendition_)}
    # `orientation: portrait` beside `format:` was "did you mean 'orient'?", a key that turns the
    # picture (a new user): a condition is said to go under `when:`.
    conditions = {name: "a condition: put it under the rendition's `when:`" for name in sorted(when - rendition_)}
    return {**_where(rendition_ | set(folders) | set(conditions), (watermark, _WATERMARK), (top_, _TOP),
                     here="a rendition's"), **conditions, **folders}


@functools.cache
def when() -> dict[str, str]:
    """A rendition's keys under its `when:` (`size: 100` is no condition)."""
    _, _, rendition_, when_, _ = _sections()
    return {name: "a rendition's key, not a condition: put it beside `when:`, not under it"
            for name in sorted(rendition_ - when_)}


@functools.cache
def known() -> frozenset[str]:
    """Every key of every mapping of the config: a key written capitalised (`Format:`, a word
    processor's first letter of a line) is read as the one it names (reader.Reader)."""
    from hotfolder.config.sections import cluster, http, notify
    from hotfolder.config.sections.steps import rights, sharpen

    names = set().union(*_sections())
    for keys in (cluster.KEYS, http.KEYS, notify.KEYS, sharpen.MAPPING_KEYS, rights.FIELD_KEYS):
        names |= _names(keys)
    return frozenset(names)
