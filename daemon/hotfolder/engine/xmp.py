"""XMP packets, with the standard library's xml.etree: read one, replace properties in
it, write it back as a valid packet.

A property is replaced wherever the packet holds it (as an element or, for simple
values, as an attribute of any rdf:Description), so an edited packet never holds two
values of one property. The namespace prefixes of the source are kept: some readers
match `dc:rights`, not the namespace. `remove_where` takes out properties by name at
any depth (strip-gps: engine/location).

Hostile XML: a packet that declares a DTD is refused before it is parsed (XMP never
needs one; entities are how XML is made to expand or to read files). Behind that,
ElementTree resolves no external entity, and expat (≥ 2.4) stops an expansion past
8 MiB of output; below that, 1 MB from a 600-byte packet would pass, and make the
output's XMP too long to write.
"""
from __future__ import annotations

import copy
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.parsers import expat

from hotfolder.shown import display

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
PACKET_END = '\n<?xpacket end="w"?>'


def q(prefix: str, name: str) -> str:
    """`dc`, `rights` → ElementTree's `{http://purl.org/dc/elements/1.1/}rights`."""
    return f"{{{NS[prefix]}}}{name}"


RDF, DESCRIPTION, ABOUT, LI = q("rdf", "RDF"), q("rdf", "Description"), q("rdf", "about"), q("rdf", "li")


@dataclass(frozen=True)
class Property:
    """One XMP property and its form: `text` (simple), `seq` (ordered list) or `alt`
    (language alternatives; written as x-default)."""

    tag: str
    form: str


class Unreadable(ValueError):
    """The packet is not XML, or not XMP."""


PREFIXES_KEPT = 256  # a source's prefixes written as it declared them (a packet uses a dozen or two)
MAX_DEPTH = 100  # elements inside one another: an XMP packet's are a handful (x:xmpmeta, rdf:RDF, a
                 # description, a property, a container, its items, a struct or two)


class Packet:
    """A parsed XMP packet: its x:xmpmeta root and the prefixes its source declared."""

    def __init__(self, root: ET.Element, prefixes: tuple[tuple[str, str], ...] = ()):
        self.root, self.prefixes = root, prefixes

    @classmethod
    def new(cls) -> Packet:
        root = ET.Element(q("x", "xmpmeta"))
        ET.SubElement(ET.SubElement(root, RDF), DESCRIPTION, {ABOUT: ""})
        return cls(root)

    @classmethod
    def parse(cls, data: bytes) -> Packet:
        text = data.replace(b"\0", b"").strip()
        _refuse_dtd(text)
        prefixes: list[tuple[str, str]] = []
        root = None
        depth = 0
        try:
            for event, item in ET.iterparse(io.BytesIO(text), events=("start-ns", "start", "end")):
                if event == "start-ns":
                    prefixes.append(item)
                elif event == "end":
                    depth -= 1
                else:
                    root = item if root is None else root
                    depth += 1
                    if depth > MAX_DEPTH:  # what walks it, and copies of it, recurse: 200,000 deep
                        raise Unreadable(f"its elements nest deeper than {MAX_DEPTH}")  # killed a worker
        except ET.ParseError as exc:
            raise Unreadable(f"not valid XML ({exc})") from None
        except (ValueError, LookupError) as exc:  # an encoding expat does not read (shift_jis, big5, unknown)
            if isinstance(exc, Unreadable):
                raise
            raise Unreadable(f"its encoding cannot be read ({exc})") from None
        if root is None or root.tag not in (q("x", "xmpmeta"), RDF):
            raise Unreadable("no x:xmpmeta or rdf:RDF element")
        if root.tag == RDF:  # a bare rdf:RDF: wrap it as a packet
            meta = ET.Element(q("x", "xmpmeta"))
            meta.append(root)
            root = meta
        if root.find(RDF) is None:
            raise Unreadable("no rdf:RDF element")
        return cls(root, tuple(prefixes))

    def descriptions(self) -> list[ET.Element]:
        return self._rdf().findall(DESCRIPTION)

    def description(self) -> ET.Element:
        """The first rdf:Description, where new properties go (made if there is none)."""
        found = self.descriptions()
        return found[0] if found else ET.SubElement(self._rdf(), DESCRIPTION, {ABOUT: ""})

    def _rdf(self) -> ET.Element:
        rdf = self.root.find(RDF)
        if rdf is None:  # parse() refuses a packet without one, new() makes one
            raise Unreadable("no rdf:RDF element")
        return rdf

    def find(self, prop: Property) -> ET.Element | str | None:
        """The property's element, or its value when written as an attribute."""
        for desc in self.descriptions():
            element = desc.find(prop.tag)
            if element is not None:
                return element
            if prop.tag in desc.attrib:
                return desc.attrib[prop.tag]
        return None

    def remove(self, prop: Property) -> None:
        for desc in self.descriptions():
            desc.attrib.pop(prop.tag, None)
            _keep_children(desc, lambda tag: tag == prop.tag)

    def remove_where(self, matches) -> int:
        """Remove every element and attribute whose name `matches(tag)`, at any depth;
        how many were removed."""
        removed = 0
        for element in list(self.root.iter()):
            for name in [n for n in element.attrib if matches(n)]:
                del element.attrib[name]
                removed += 1
            removed += _keep_children(element, matches)
        return removed

    def set_everywhere(self, tag: str, value: str) -> None:
        """Give the simple property `tag` the text `value` wherever the packet holds it."""
        for element in self.root.iter():
            if tag in element.attrib:
                element.attrib[tag] = value
            for child in element.findall(tag):
                child.text = value

    def put(self, prop: Property, value: str | ET.Element) -> None:
        """Set `prop` to a text, or to a copy of another packet's element (or attribute
        value) for it, replacing whatever the packet held."""
        self.remove(prop)
        target = self.description()
        if isinstance(value, ET.Element):
            target.append(copy.deepcopy(value))
            return
        element = ET.SubElement(target, prop.tag)
        if prop.form == "text":
            element.text = value
        elif prop.form == "seq":
            ET.SubElement(ET.SubElement(element, q("rdf", "Seq")), LI).text = value
        else:
            ET.SubElement(ET.SubElement(element, q("rdf", "Alt")), LI, {XML_LANG: "x-default"}).text = value

    def tobytes(self) -> bytes:
        used: set[str] = set()
        for element in self.root.iter():  # ElementTree writes any text as it is, valid XML or not
            used.add(_uri(element.tag))
            if element.text:
                element.text = writable(element.text)
            if element.tail:
                element.tail = writable(element.tail)
            for key, value in element.attrib.items():
                used.add(_uri(key))
                element.attrib[key] = writable(value)
        # The source's prefixes for the namespaces written, then ours (they win over a source's
        # odd choices), registered for this write only: ElementTree's registry is the process's,
        # each registration scans it, and a packet declaring 15,000 prefixes took 54 s (each
        # file's were kept for the next: an attack round).
        saved = dict(ET._namespace_map)  # type: ignore[attr-defined]
        try:  # past PREFIXES_KEPT, ElementTree names the rest ns0, ns1, … (XMP readers match namespaces)
            source = [(p, u) for p, u in self.prefixes if u in used][:PREFIXES_KEPT]
            for prefix, uri in [*source, *NS.items()]:
                _register(prefix, uri)
            return (PACKET_BEGIN + ET.tostring(self.root, encoding="unicode") + PACKET_END).encode("utf-8")
        finally:
            ET._namespace_map.clear()  # type: ignore[attr-defined]
            ET._namespace_map.update(saved)  # type: ignore[attr-defined]


# Characters XML 1.0 does not allow (C0 controls but tab, newline, return; U+FFFE, U+FFFF): a
# packet holding one no longer parses (a name's bytes that are not UTF-8: `display` first).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def writable(text: str) -> str:
    """`text` as XMP can hold it: a name's bytes that are not UTF-8 as `\\xNN` (as logs show
    them), and what XML does not allow left out (an IPTC caption's control characters, copied
    by set_metadata, made the output's XMP unreadable: an attack round's finding)."""
    return _NOT_XML.sub("", display(text))


class _Prolog(Exception):
    """The root element started: the prolog, where a DTD would be, is over."""


def _refuse_dtd(text: bytes) -> None:
    """Unreadable if the packet declares a DTD; reads only the prolog (up to the root)."""
    def doctype(*_):
        raise Unreadable("it declares a DTD, which XMP never needs (entities are refused)")

    def root(*_):
        raise _Prolog

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler, parser.StartElementHandler = doctype, root
    try:
        parser.Parse(text, True)
    except Unreadable:
        raise
    except (_Prolog, expat.ExpatError, ValueError, LookupError):
        pass  # the root, or not XML, or an encoding expat does not read: Packet.parse says why


def _keep_children(element: ET.Element, matches) -> int:
    """Remove the children whose tag `matches`, in one pass; how many. (`element.remove` in a
    loop searches and shifts the children each time: 66,000 matches among as many others in a
    2 KB compressed PNG chunk took 41 s: an attack round.)"""
    kept = [child for child in element if not matches(child.tag)]
    removed = len(element) - len(kept)
    if removed:
        element[:] = kept
    return removed


def _uri(tag) -> str:
    """The namespace of an ElementTree name (`{uri}local`), "" for none (or a comment's tag,
    which is a function)."""
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _register(prefix: str, uri: str) -> None:
    if prefix and not re.fullmatch(r"ns\d+", prefix) and uri != "http://www.w3.org/XML/1998/namespace":
        try:
            ET.register_namespace(prefix, uri)
        except ValueError:
            pass  # a prefix ElementTree keeps for itself: it writes its own

