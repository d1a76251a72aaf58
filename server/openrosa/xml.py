"""Renderers of the OpenRosa documents: formList, manifest and <OpenRosaResponse>."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

FORMLIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
RESPONSE_NS = "http://openrosa.org/http/response"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass(frozen=True)
class FormListEntry:
    form_id: str
    name: str
    version: str
    md5: str
    download_url: str
    manifest_url: str | None


@dataclass(frozen=True)
class MediaEntry:
    filename: str
    md5: str
    download_url: str


def _document(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _child(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def form_list(entries: list[FormListEntry]) -> bytes:
    root = ET.Element("xforms", xmlns=FORMLIST_NS)
    for entry in entries:
        xform = ET.SubElement(root, "xform")
        _child(xform, "formID", entry.form_id)
        _child(xform, "name", entry.name)
        _child(xform, "version", entry.version)
        _child(xform, "hash", f"md5:{entry.md5}")
        _child(xform, "downloadUrl", entry.download_url)
        if entry.manifest_url:
            _child(xform, "manifestUrl", entry.manifest_url)
    return _document(root)


def manifest(entries: list[MediaEntry]) -> bytes:
    root = ET.Element("manifest", xmlns=MANIFEST_NS)
    for entry in entries:
        media = ET.SubElement(root, "mediaFile")
        _child(media, "filename", entry.filename)
        _child(media, "hash", f"md5:{entry.md5}")
        _child(media, "downloadUrl", entry.download_url)
    return _document(root)


def response(message: str, nature: str = "") -> bytes:
    """<OpenRosaResponse>: Collect shows the message text to the caseworker."""
    root = ET.Element("OpenRosaResponse", xmlns=RESPONSE_NS, items="0")
    element = ET.SubElement(root, "message")
    if nature:
        element.set("nature", nature)
    element.text = message
    return _document(root)
