"""All models, imported here so Alembic and the app see one metadata."""
from .approvals import LEVELS, STATUS_REASONS, ApprovalRound, LevelOpinion, StatusChange
from .areas import AREA_LEVELS, Area
from .audit import AuditEvent
from .base import Base, utcnow
from .cases import CASE_STATUSES, CATEGORIES, RELATIONS, RESIDENCES, SEXES, WORK_CAPACITIES, Household, Member
from .forms import Form, FormVersion
from .lists import ListVersion
from .redos import VillageRedo
from .rules import AssistanceRules, CountyRules, Standard
from .sampling import POPULATIONS, RESULTS, Campaign, SampleItem
from .schedule import VisitFrequencyRules
from .signin import SignInFailures
from .submissions import REVIEW_STATES, Attachment, Flag, ReviewEvent, Submission, SubmissionVersion
from .users import ROLES, ApiToken, PhoneToken, User, user_areas

__all__ = [
    "Campaign",
    "POPULATIONS",
    "RESULTS",
    "SampleItem",
    "ApprovalRound",
    "LEVELS",
    "LevelOpinion",
    "STATUS_REASONS",
    "StatusChange",
    "ApiToken",
    "Area",
    "AssistanceRules",
    "AREA_LEVELS",
    "AuditEvent",
    "Attachment",
    "Base",
    "CASE_STATUSES",
    "CATEGORIES",
    "CountyRules",
    "Flag",
    "Form",
    "FormVersion",
    "Household",
    "ListVersion",
    "Member",
    "PhoneToken",
    "RELATIONS",
    "RESIDENCES",
    "REVIEW_STATES",
    "ReviewEvent",
    "ROLES",
    "SEXES",
    "SignInFailures",
    "Standard",
    "Submission",
    "SubmissionVersion",
    "User",
    "user_areas",
    "utcnow",
    "VillageRedo",
    "VisitFrequencyRules",
    "WORK_CAPACITIES",
]
