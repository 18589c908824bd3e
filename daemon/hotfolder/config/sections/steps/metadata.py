"""What metadata the outputs keep (engine/metadata.py): metadata."""
from __future__ import annotations

from hotfolder.config.choices import Metadata
from hotfolder.config.keys import Key, Step
from hotfolder.config.values import Choice

KEYS = (
    Key("metadata", Choice(Metadata, aliases={"strip": "strip-all", "none": "strip-all", "all": "keep"}),
        Metadata.STRIP_GPS,
        "`keep` (EXIF, XMP, ICC, and a JPEG's or TIFF's IPTC-IIM in JPEG and TIFF outputs (a TIFF's in its tag "
        "33723, where Photoshop puts it); in the other formats, which have no IIM, its byline, credit, copyright, "
        "title, caption, headline and keywords go into the XMP where it has "
        "none), `strip-gps` (the same without where the "
        "photo was taken: EXIF's GPS block, and the copies of the IPTC-IIM, XMP and Photoshop resources some "
        "tools keep inside EXIF (its IFD0 tags 33723, 700, 34377); in XMP, GPS coordinates under any prefix, "
        "IPTC location, city, state, "
        "country, places shown, drone positions — the rest of the packet, captions, creator, keywords, stays; in "
        "IPTC-IIM, the city, sublocation, state, country and location datasets; an XMP packet that cannot be "
        "parsed is left out, and the log says so), `strip-all` (no EXIF/XMP), `copyright-only` (only the rights "
        "fields of `set_metadata`, as the source has them — in a JPEG or TIFF, its IPTC-IIM by-line, credit and "
        "copyright notice too —, and the ICC profile: no camera, lens, GPS, dates or serial numbers — what a "
        "web publisher wants). An ICC colour profile is always written when the pixels "
        "have one (the source's, or the one `color_profile` converted to): dropping it changes colours. The EXIF "
        "kept describes the output: its pixel size (ExifImageWidth/Height), its colour space once converted "
        "(ColorSpace; a camera's Adobe RGB mark R03 dropped), and its density, which JPEG's JFIF, PNG's pHYs and "
        "a TIFF's resolution tags state too: the source's X/YResolution and unit, else the density its JFIF or "
        "pHYs states (a scanner's "
        "JPEG has no EXIF), else 72 dpi. Never copied, whatever the policy: "
        "Photoshop's layered document in a TIFF (ImageSourceData: every layer, hidden ones too) and its "
        "DocumentAncestors list; an EXIF or XMP too big for a JPEG's 64 KB segment is left out of that output, "
        "and the log says so; so is a source's EXIF past 1 MB or 20,000 values (no camera writes one), "
        "and a colour profile past 4 MB (the largest real ones, printers', are 1–3 MB)."),
)

STEP = Step("metadata", KEYS)
