"""What a visit said: the answers of a submission version, read from its XML."""
from __future__ import annotations

from ..models import SubmissionVersion
from .forms import structure_of
from .xforms import answers, parse_instance


def visit_answers(version: SubmissionVersion) -> dict:
    """The version's answers as nested dicts, its repeats lists of dicts (services.xforms.answers)."""
    return answers(parse_instance(version.xml), structure_of(version.form_version).repeats)
