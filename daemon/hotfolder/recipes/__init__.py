"""Recipes: what a folder does with which file, decided from the file itself.

Standard library only (the config parses with it; the supervisor loads no decoder):

  facts        Facts: what conditions and templates may read of one file, and Need:
               which of it a folder's recipe uses (the rest is never read)
  templates    the one template engine: `{field:spec|filter}` parsed at config time,
               filled in by the worker (filenames, set_metadata's texts, manifests)
  filters      slug, lower, upper, default(text); first, last, pick(glob) of an item field
  conditions   `when:`: the entries, parsed into frozen dataclasses, and one pure
               evaluation that says which entry excluded a rendition
  select       which renditions of a folder apply to a file, and why the others do not
  exif_tags    the EXIF tag names `exif:` conditions may use
  sequence     `{seq}`: a per-folder counter that never repeats (state/db.py, or Redis)
  explain      what `hotfolder explain` and the status page say of one file

What a file's facts are read with is the engine's (engine/facts.py: the header, EXIF,
XMP, IPTC-IIM, an XMP sidecar); where its outputs go is the worker's (workers/naming.py).
"""
