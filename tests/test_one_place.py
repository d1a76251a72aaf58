"""Values the domain shares are defined once: the five sights, the XForms namespaces, the yuan
formatter, the local time zone (one setting) and the form ids (named constants)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import date

import pytest

from server.config import LOCAL_TZ, PROJECT_ROOT
from server.services import forms

SERVER = PROJECT_ROOT / "server"
FORM_IDS = {forms.HOUSEHOLD_VISIT, forms.APPLICATION, forms.DECLARATION, forms.AUTHORIZATION,
            forms.RELATIVE_REGISTRATION, forms.REVIEW_APPROVAL, forms.SPOT_CHECK, forms.DEMOCRATIC_APPRAISAL,
            forms.PUBLICITY_RECORD}


def _trees():
    for path in sorted(SERVER.rglob("*.py")):
        yield path.relative_to(PROJECT_ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _defined(tree: ast.Module) -> set[str]:
    """Names a module defines at its top: assignments, functions and classes."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        for target in getattr(node, "targets", None) or [getattr(node, "target", None)]:
            if isinstance(target, ast.Name):
                names.add(target.id)
    return names


@pytest.mark.parametrize("name", ["SIGHTS", "XFORMS_NS", "HTML_NS", "LOCAL_TZ", "yuan"])
def test_a_shared_value_is_defined_in_one_module(name):
    where = [path for path, tree in _trees() if name in _defined(tree)]
    assert len(where) == 1, where


def test_fen_are_formatted_as_yuan_in_one_place():
    formatting = [path for path, tree in _trees() for node in ast.walk(tree)
                  if isinstance(node, ast.FormattedValue) and "/ 100" in ast.unparse(node.value)
                  and ast.unparse(node.format_spec or ast.Constant("")).endswith(".2f'")]
    assert formatting == ["server/services/eligibility.py"]


def test_the_form_ids_are_written_only_where_they_are_named():
    """A form id is a constant of services/forms.py; elsewhere the string may only be shown (a
    label, the kind of a timeline event), never compared or used as a key."""
    written = []
    for path, tree in _trees():
        if path == "server/services/forms.py":
            continue
        shown = {id(node) for parent in ast.walk(tree) if isinstance(parent, ast.Dict)
                 for value in parent.values for node in ast.walk(value)}
        written += [f"{path}:{node.lineno} {node.value}" for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and node.value in FORM_IDS and id(node) not in shown]
    assert written == []
    assert forms.HOUSEHOLD_VISIT == "household_visit" and forms.SPOT_CHECK == "spot_check"
    assert set(forms.FORM_ROLES) == FORM_IDS


def test_the_local_time_zone_is_asia_shanghai_unless_set():
    assert LOCAL_TZ.key == "Asia/Shanghai"
    mentions = [path for path in SERVER.rglob("*.py") if "Asia/Shanghai" in path.read_text(encoding="utf-8")]
    assert mentions == [SERVER / "config.py"]


def _python(code: str, zone: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env={**os.environ, "LOCAL_TIME_ZONE": zone}, timeout=120)


def test_one_setting_moves_today_the_times_shown_and_exif_times_together():
    code = ("import inspect; from datetime import datetime, timezone; from server.services import checks, media, schedule; "
            "print(schedule.today().isoformat(), checks._local(datetime(2026, 1, 1, tzinfo=timezone.utc)), "
            "inspect.signature(media.inspect_image).parameters['local_tz'].default)")
    east = _python(code, "Pacific/Kiritimati").stdout.split()  # UTC+14
    west = _python(code, "Etc/GMT+12").stdout.split()  # UTC-12: 26 hours apart, always another day
    assert date.fromisoformat(east[0]) > date.fromisoformat(west[0])
    assert east[1:] == ["2026-01-01", "14:00", "Pacific/Kiritimati"]
    assert west[1:] == ["2025-12-31", "12:00", "Etc/GMT+12"]


def test_a_time_zone_that_does_not_exist_stops_the_server_saying_so():
    result = _python("import server.config", "Mars/Olympus_Mons")
    assert result.returncode != 0
    assert "LOCAL_TIME_ZONE='Mars/Olympus_Mons' is not a time zone" in result.stderr
