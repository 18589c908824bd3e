"""Which renditions of a folder apply to one file, and for each other one the entry of
its `when:` that excluded it: what the worker renders and `hotfolder explain` says.
Pure: facts in, a Selection out.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hotfolder.config.choices import DuplicateScope
from hotfolder.config.model import Folder, Rendition
from hotfolder.recipes import templates
from hotfolder.recipes.conditions import Outcome, evaluate
from hotfolder.recipes.facts import Facts, Need, need_of_fields


@dataclass(frozen=True)
class Selection:
    chosen: tuple[Rendition, ...]
    outcomes: tuple[tuple[Rendition, Outcome], ...]  # every rendition, in the folder's order

    @property
    def excluded(self) -> tuple[tuple[Rendition, Outcome], ...]:
        return tuple((r, o) for r, o in self.outcomes if not o.holds)

    def said(self) -> str:
        """One line: why no rendition applies (for the log and a failure's reason)."""
        return "; ".join(f"{r.name}: when.{o.key}: {o.why}" for r, o in self.excluded)


def select(renditions: Sequence[Rendition], facts: Facts) -> Selection:
    outcomes = tuple((r, evaluate(r.when, facts)) for r in renditions)
    return Selection(tuple(r for r, o in outcomes if o.holds), outcomes)


def condition_need(renditions: Iterable[Rendition]) -> Need:
    """What the folder's conditions read: known before any rendition is chosen."""
    need = Need()
    for r in renditions:
        if r.when is not None:
            need |= r.when.need()
    return need


def routed(renditions: Iterable[Rendition], subdir: str) -> bool:
    """Whether a rendition's `when:` names this subfolder (`subfolder: "clients/*"` names
    `clients/bob`): the recipe delivers to it by its name."""
    return any(r.when is not None and r.when.routes(subdir) for r in renditions)


def subfolder_scope(folder: Folder, rel: str) -> str | None:
    """The subfolder an earlier original must lie in to count (`duplicate_scope: subfolder`;
    or `auto`, for a file in a subfolder a rendition's `subfolder:` names: the same photo in
    `clients/alice` and `clients/bob` is two deliveries, while a card copied to `card2/`, a
    folder no condition names, is the duplicate of `card1/`'s); None: anywhere in the folder
    (`all`: in every folder). Here, not in workers/duplicates.py, so the supervisor (its clips
    passed through again: supervisor/passed_again.py) reads it without the workers' imports."""
    subdir = rel.rpartition("/")[0]
    scope = folder.duplicate_scope
    if scope == DuplicateScope.AUTO:
        scope = DuplicateScope.SUBFOLDER if routed(folder.renditions, subdir) else DuplicateScope.FOLDER
    return subdir if scope == DuplicateScope.SUBFOLDER else None


def template_fields(renditions: Iterable[Rendition]) -> frozenset[str]:
    """The fields the renditions' file names and set_metadata texts use."""
    found: set[str] = set()
    for r in renditions:
        found |= templates.parsed(r.filename).fields
        for text in metadata_templates(r):
            found |= templates.parsed(text, templates.METADATA_FIELDS).fields
    return frozenset(found)


def metadata_templates(rendition: Rendition) -> list[str]:
    spec = rendition.set_metadata
    if spec is None:
        return []
    return [t for t in (spec.artist, spec.copyright, spec.credit, spec.usage_terms, spec.title,
                        spec.description, spec.headline, *spec.keywords) if t]


def folder_need(folder: Folder) -> Need:
    """Everything a folder's recipe may read of a file: its conditions', and its templates'."""
    return condition_need(folder.renditions) | need_of_fields(template_fields(folder.renditions))
