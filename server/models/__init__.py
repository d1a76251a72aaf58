"""All models, imported here so Alembic and the app see one metadata."""
from .areas import AREA_LEVELS, Area
from .base import Base, utcnow
from .cases import CASE_STATUSES, CATEGORIES, RELATIONS, RESIDENCES, SEXES, WORK_CAPACITIES, Household, Member
from .forms import Form, FormVersion
from .rules import CountyRules, Standard
from .submissions import Attachment, Flag, Submission, SubmissionVersion
from .users import ROLES, ApiToken, PhoneToken, User, user_areas

__all__ = [
    "AREA_LEVELS", "Area", "Base", "utcnow", "CASE_STATUSES", "CATEGORIES", "RELATIONS", "RESIDENCES",
    "SEXES", "WORK_CAPACITIES", "Household", "Member", "Form", "FormVersion", "ROLES", "PhoneToken",
    "User", "user_areas", "ApiToken", "Attachment", "Flag", "Submission", "SubmissionVersion", "CountyRules", "Standard",
]
