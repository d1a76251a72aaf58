"""What a visit said: the answers of a submission version, read from its XML."""
from __future__ import annotations

from ..models import SubmissionVersion
from .forms import structure_of
from .xforms import answers, parse_instance

# The five sights (五见) a home visit and a spot check record, each photographed or explained:
# sight -> (Chinese, English). The questions are sights/sight_<sight>_seen, _photo and _reason.
SIGHTS = {
    "head": ("见低保户/户主", "the beneficiary / head of household"),
    "certificate": ("见低保证", "the assistance certificate"),
    "passbook": ("见存折/一卡通", "the passbook or bank card"),
    "hukou": ("见户口本或身份证", "the hukou or ID card"),
    "home": ("见居住环境", "the living conditions"),
}


def visit_answers(version: SubmissionVersion) -> dict:
    """The version's answers as nested dicts, its repeats lists of dicts (services.xforms.answers)."""
    return answers(parse_instance(version.xml), structure_of(version.form_version).repeats)
