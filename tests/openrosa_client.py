"""Reads OpenRosa documents the way ODK Collect does (Kxml2OpenRosaResponseParser): a form entry
missing formID, name or downloadUrl makes the whole list unusable (None); a manifest entry missing
filename, hash or downloadUrl likewise. And splits an upload into POSTs as Collect does."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from urllib3 import encode_multipart_formdata

# What Collect assumes when HEAD /submission announces no X-OpenRosa-Accept-Content-Length.
COLLECT_DEFAULT_LIMIT = 10_000_000

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


def collect_posts(xml: bytes, files: list[tuple[str, bytes]], limit: int) -> list[tuple[bytes, str]]:
    """The multipart bodies (and Content-Types) Collect posts for one upload, in order, as
    OkHttpConnection.uploadSubmissionAndFiles builds them: each carries the XML; files are added in
    order while the XML and the files so far plus the next file fit `limit` (framing not counted)
    and at most 101 are in it, the first file of a POST whatever its size; all but the last say
    *isIncomplete*. A failed POST fails the upload, which starts again from the first POST."""
    posts, index, first = [], 0, True
    while index < len(files) or first:
        first, last, count = False, index, len(xml)
        fields = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
        while index < len(files):
            name, body = files[index]
            fields.append((name, (name, body, "application/octet-stream")))
            count += len(body)
            if index + 1 < len(files) and (index - last + 1 > 100 or count + len(files[index + 1][1]) > limit):
                fields.append(("*isIncomplete*", "yes"))
                index += 1
                break
            index += 1
        posts.append(encode_multipart_formdata(fields))
    return posts
