"""Pictures shown on patients' pages (exercise illustrations): which files are accepted, and the
safety check every SVG passes, ours and a clinic's alike.

An SVG is a document that can run script, load other files and embed HTML. Shown through an
``<img>`` a browser does none of that, but the same file opened on its own (a new tab, a
saved link) would, on our origin. So an illustration must be a drawing and nothing else: no
script, no event attributes, no embedded HTML, nothing fetched from elsewhere. The route that
serves it adds a restrictive Content-Security-Policy as a second line of defence.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from .xmlsafe import UnsafeXmlError, parse_xml

MEDIA_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg", ".webp": "image/webp"}
"""Accepted file name extensions and the content type each is served with."""
MAX_IMAGE_BYTES = 1_000_000
"""Largest picture accepted: a phone loads it with the exercise page. Our drawings are under
8 KB; a clinic's photo fits easily once sized for a screen."""

SVG_NS = "http://www.w3.org/2000/svg"
_XHTML_NS = "http://www.w3.org/1999/xhtml"
_REFUSED_ELEMENTS = {"script", "foreignobject", "iframe", "embed", "object", "handler",
                     "listener"}
"""Elements that run code or embed another document (handler and listener: SVG Tiny's)."""
_ANIMATIONS = {"set", "animate", "animatemotion", "animatetransform"}
_URL_RE = re.compile(r"url\(\s*['\"]?\s*([^)'\"\s]*)", re.IGNORECASE)
_DECLARATION_RE = re.compile(rb"^(\xef\xbb\xbf)?\s*<\?xml\s[^?]*\?>")
_SIGNATURES = {".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",),
               ".jpeg": (b"\xff\xd8\xff",)}


class UnsafeImageError(ValueError):
    """The picture is not one we serve; the message says why in a sentence."""


def check_image(path: Path) -> str:
    """Check a picture file; returns the content type it is served with."""
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    if media_type is None:
        raise UnsafeImageError(f"{path}: must be a {', '.join(MEDIA_TYPES)} file")
    if not path.is_file():
        raise UnsafeImageError(f"{path}: file not found")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise UnsafeImageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(content) > MAX_IMAGE_BYTES:
        raise UnsafeImageError(f"{path}: file is {len(content):,} bytes; the limit is "
                               f"{MAX_IMAGE_BYTES:,} bytes")
    if media_type == "image/svg+xml":
        check_svg(content, str(path))
    elif not _has_signature(content, path.suffix.lower()):
        # Served with nosniff, a mislabelled file would only show as broken; say so now.
        raise UnsafeImageError(f"{path}: the file's content is not a {media_type} image")
    return media_type


def _has_signature(content: bytes, suffix: str) -> bool:
    if suffix == ".webp":
        return content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    return content.startswith(_SIGNATURES[suffix])


def check_svg(content: bytes, filename: str) -> None:
    """Refuse an SVG that is more than a drawing: script, foreignObject or other embedding
    elements, on* event attributes, links or style ``url()``s that leave the document,
    ``@import``, processing instructions (an ``xml-stylesheet`` fetches a file), DOCTYPEs and
    entities. Raises UnsafeImageError naming the file and the first problem found."""
    try:
        root = parse_xml(content, filename, MAX_IMAGE_BYTES)
    except UnsafeXmlError as exc:
        raise UnsafeImageError(str(exc)) from None
    # The parser drops processing instructions, so look for them in the bytes themselves
    # (after the XML declaration, which is not one); zero bytes go first, for UTF-16.
    rest = _DECLARATION_RE.sub(b"", content.replace(b"\x00", b""), count=1)
    if b"<?" in rest:
        raise UnsafeImageError(f"{filename}: processing instructions are not allowed")
    if root.tag != f"{{{SVG_NS}}}svg":
        raise UnsafeImageError(f"{filename}: the root element must be <svg> in the SVG "
                               f"namespace ({SVG_NS})")
    for element in root.iter(etree.Element):
        name = etree.QName(element)
        local = name.localname.lower()
        if local in _REFUSED_ELEMENTS or name.namespace == _XHTML_NS:
            raise UnsafeImageError(f"{filename}: <{name.localname}> elements are not allowed")
        for attribute, value in element.attrib.items():
            _check_attribute(filename, name.localname, str(attribute), str(value))
        if local in _ANIMATIONS and element.get("attributeName", "").lower().endswith("href"):
            raise UnsafeImageError(f"{filename}: <{name.localname}> must not change a link")
        if local == "style":
            _check_style(filename, "<style>", "".join(element.itertext()))


def _check_attribute(filename: str, element: str, attribute: str, value: str) -> None:
    name = etree.QName(attribute)
    local = name.localname.lower()
    where = f"<{element} {name.localname}>"
    if local.startswith("on"):
        raise UnsafeImageError(f"{filename}: {where}: event attributes are not allowed")
    if local == "href" and not value.strip().startswith("#"):
        raise UnsafeImageError(f"{filename}: {where}: links may only point inside the drawing "
                               f"(#id), got {value[:80]!r}")
    if name.namespace is None:  # editors' own attributes (Inkscape's) mean nothing to browsers
        _check_style(filename, where, value)


def _check_style(filename: str, where: str, text: str) -> None:
    """CSS, in a style attribute or element or a presentation attribute such as fill."""
    lowered = text.lower()
    # Escapes could spell url( so that the check below misses it; drawings need none.
    for refused in ("@import", "\\", "image-set(", "src("):
        if refused in lowered:
            raise UnsafeImageError(f"{filename}: {where}: {refused!r} is not allowed")
    for target in _URL_RE.findall(text):
        if not target.startswith("#"):
            raise UnsafeImageError(f"{filename}: {where}: url() may only point inside the "
                                   f"drawing (#id), got {target[:80]!r}")
