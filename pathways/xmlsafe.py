"""Parse untrusted BPMN/DMN XML: no DOCTYPE, no entities, no network, bounded size."""

from __future__ import annotations

import re

from lxml import etree

MAX_MODEL_BYTES = 1_000_000
"""Largest model file accepted. The reference pathway is about 40 KB."""

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class UnsafeXmlError(ValueError):
    """The file is not acceptable XML; the message says why in a sentence."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def parse_xml(content: bytes, filename: str, max_bytes: int = MAX_MODEL_BYTES) -> etree._Element:
    """Parse `content` with a hardened parser and return its root element."""
    if len(content) > max_bytes:
        raise UnsafeXmlError(
            f"{filename}: file is {len(content)} bytes; the limit is {max_bytes} bytes"
        )
    # Any UTF-16/32 variant, with or without a byte-order mark: drop the zero bytes and look.
    probe = content.replace(b"\x00", b"")
    if _DOCTYPE.search(probe):
        raise UnsafeXmlError(f"{filename}: DOCTYPE and entity declarations are not allowed")
    try:
        root = etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as err:
        raise UnsafeXmlError(f"{filename}: not well-formed XML: {err}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXmlError(f"{filename}: DOCTYPE and entity declarations are not allowed")
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise UnsafeXmlError(f"{filename}: entity references are not allowed")
    return root
