"""Reads OpenRosa documents the way ODK Collect does (Kxml2OpenRosaResponseParser): a form entry
missing formID, name or downloadUrl makes the whole list unusable (None); a manifest entry missing
filename, hash or downloadUrl likewise."""
from __future__ import annotations

import xml.etree.ElementTree as ET

FORMLIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"


def _children(element, namespace):
    return [child for child in element if child.tag.startswith(f"{{{namespace}}}")]


def _local(tag: str) -> str:
    return tag.split("}", 1)[1]


def parse_form_list(body: bytes) -> list[dict] | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag != f"{{{FORMLIST_NS}}}xforms":
        return None
    forms = []
    for xform in _children(root, FORMLIST_NS):
        if _local(xform.tag).lower() != "xform":
            continue
        item = {_local(child.tag): (child.text or "").strip() or None for child in _children(xform, FORMLIST_NS)}
        hash_ = item.get("hash")
        item["hash"] = hash_[4:] if hash_ and hash_.startswith("md5:") else None
        if not item.get("formID") or not item.get("downloadUrl") or not item.get("name"):
            return None
        forms.append(item)
    return forms


def parse_manifest(body: bytes) -> list[dict] | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag != f"{{{MANIFEST_NS}}}manifest":
        return None
    files = []
    for media in _children(root, MANIFEST_NS):
        if _local(media.tag).lower() != "mediafile":
            continue
        item = {_local(child.tag): (child.text or "").strip() or None for child in _children(media, MANIFEST_NS)}
        if not item.get("filename") or not item.get("hash") or not item.get("downloadUrl"):
            return None
        item["hash"] = item["hash"][4:]
        files.append(item)
    return files


def parse_openrosa_response(body: bytes) -> str:
    root = ET.fromstring(body)
    assert root.tag == "{http://openrosa.org/http/response}OpenRosaResponse", root.tag
    return "".join(root.find("{http://openrosa.org/http/response}message").itertext())
