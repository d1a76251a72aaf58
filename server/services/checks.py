"""Checks run on every received version: what a supervisor should look at in a visit, stored as flags with their figures.

run_checks() recomputes every flag of one submission version from scratch: it runs when the
version arrives and again when a re-send completes its files, so it must give the same answer
whatever it found before. Each flag has a stable code, a message in plain Chinese followed by
English (supervisors read it), and its numbers in `figures`.

Severity: "error" where the record itself misses what the procedure requires (a sight neither
photographed nor explained, fewer investigators than required, a missing or copied signature, the
same photo file in another household); "warning" where the facts need a person's judgement
(distance, accuracy, photo position or time, a near-identical photo, red flags, income, not at home).

Every form is checked for damaged pictures, copied signatures and (a household's form) a missing
case_id; the rest is for household_visit and spot_check only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from geopy.distance import geodesic
from sqlalchemy import cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.orm import Session

from ..config import LOCAL_TZ
from ..models import Area, Attachment, CountyRules, Flag, Household, Submission, SubmissionVersion
from ..models import rules as defaults
from .areas import county_id_of
from .eligibility import compute, yuan
from .forms import HOUSEHOLD_VISIT, SPOT_CHECK, structure_of
from .media import SIMILAR_PHASH_DISTANCE, phash_distance
from .schedule import household_visits, today
from .spotchecks import assignment_flags
from .visits import SIGHTS, VisitRecord, record_of

CHECKED_FORMS = (HOUSEHOLD_VISIT, SPOT_CHECK)
# Supervisors read times in the county's local time, LOCAL_TZ (phones write EXIF in it too; see media.py).

# How many distinct people must go (the record's investigators, visits.PEOPLE). household_visit: at
# least two staff visit each household (domain). spot_check: the form itself asks for at least one
# checker (a county re-visit), so two would flag nearly every spot check.
MINIMUM_PEOPLE = {HOUSEHOLD_VISIT: 2, SPOT_CHECK: 1}

# --- the photo re-use search ---------------------------------------------------------------------
# Two stages, both pre-filtered in SQL:
# 1. Exact perceptual-hash equality, across every county, through the index on attachments.phash.
#    Identical bytes always give the same hash, and re-encoding, resizing or a brightness change
#    leave it unchanged or move it by a bit or two (media.py), so this finds most re-use however
#    old the other photo is, at the cost of an index lookup per photo.
# 2. Hamming distance up to SIMILAR_PHASH_DISTANCE, which no B-tree index can answer: a scan of the
#    REUSE_SCAN_LIMIT most recently received photos (by id) of other households in the same county.
#    PostgreSQL computes the distances itself and returns only the matches; on SQLite the (id, phash)
#    pairs are compared in Python. A county of 5,000 households visited twice a year gathers
#    ~50,000 photos a year (five per visit), so the bound covers about the last five months; a
#    near-identical copy older than that is missed unless its hash is equal (stage 1). The cost per
#    submission is bounded by the limit whatever the county's size: one query and at most
#    REUSE_SCAN_LIMIT x (photos in this visit) XOR-and-popcounts.
#    Pigeonhole indexing (split the 64 bits into 11 bands, one must match exactly) would need a
#    side table of bands and narrows little at a distance of 10 (each 6-bit band matches 1/64 of all
#    photos, 11 bands ~17 %), so the bounded scan is the simpler honest choice at this size.
REUSE_SCAN_LIMIT = 20_000
REUSE_EXACT_LIMIT = 200  # rows per exact-hash query: a blank or black photo can match very many
REUSE_MATCHES_SHOWN = 5


@dataclass(frozen=True)
class Rules:
    """A county's check thresholds (its CountyRules row in force, or the defaults)."""

    location_threshold_m: int = defaults.DEFAULT_LOCATION_THRESHOLD_M
    max_accuracy_m: int = defaults.DEFAULT_MAX_ACCURACY_M
    photo_distance_m: int = defaults.DEFAULT_PHOTO_DISTANCE_M
    photo_time_slack_minutes: int = defaults.DEFAULT_PHOTO_TIME_SLACK_MINUTES
    not_home_limit: int = defaults.DEFAULT_NOT_HOME_LIMIT


def rules_for(session: Session, area: Area | None, on: date | None = None) -> Rules:
    """The thresholds in force on a date (default today) in the county the area lies in; the
    defaults where it has none in force."""
    if area is None:
        return Rules()
    row = session.scalar(CountyRules.in_force(county_id_of(area), on or today()))
    if row is None:
        return Rules()
    return Rules(row.location_threshold_m, row.max_accuracy_m, row.photo_distance_m,
                 row.photo_time_slack_minutes, row.not_home_limit)


# --- running ---------------------------------------------------------------------------------------

def run_checks(session: Session, version: SubmissionVersion) -> list[Flag]:
    """Replace the version's flags with freshly computed ones (flushed, never committed), from its
    visit record (services/visits.py)."""
    flags = compute_flags(session, version, record_of(version))
    replace_flags(session, version, flags)
    return flags


def replace_flags(session: Session, version: SubmissionVersion, flags: list[Flag]) -> None:
    for old in list(version.flags):
        session.delete(old)
    session.flush()
    session.expire(version, ["flags"])
    for flag in flags:
        flag.version = version
    session.add_all(flags)
    session.flush()


def compute_flags(session: Session, version: SubmissionVersion, record: VisitRecord) -> list[Flag]:
    """The version's flags, computed from its record by reading only: the flags are not attached to
    the session, so the checks can run in a read transaction and be stored in a short write one."""
    flags: list[Flag] = _damaged_pictures(version) + _copied_signatures(session, version) + _not_filed(version)
    if record.form_id not in CHECKED_FORMS:
        return flags
    household = version.submission.household
    rules = rules_for(session, household.village if household else None, record.visit_date)
    photos = [a for a in version.attachments if _is_photo(a)]
    flags += _sights(record)
    flags += _people(record)
    flags += _location(record, household, rules)
    flags += _photo_places_and_times(record, photos, rules)
    flags += _photo_reuse(session, version, household, photos)
    flags += _red_flags(record)
    flags += _income(session, record, household)
    flags += _not_home(session, record, household, rules)
    flags += _spot_check_assignment(session, version, record)
    return flags


def _not_filed(version: SubmissionVersion) -> list[Flag]:
    """A household's form (it asks case_id) that names none is kept, under no case: said so, for a
    supervisor to file or discount by hand. The phone requires the answer; a hand-made upload or a
    broken client can leave it out (a new applicant's visit makes its own case instead)."""
    if version.submission.household_id is not None or not structure_of(version.form_version).names_a_household:
        return []
    return [_flag("not_filed", "warning", "本表未指明低保户（档案号为空）；已保存，但未归入任何户。",
                  "The form names no household (its case_id is empty); it is kept, but filed under no case.")]


def _flag(code: str, severity: str, chinese: str, english: str, **figures) -> Flag:
    return Flag(code=code, severity=severity, message=f"{chinese} {english}", figures=figures)


def _is_signature(attachment: Attachment) -> bool:
    return attachment.field.rsplit("/", 1)[-1].endswith("signature")


def _is_photo(attachment: Attachment) -> bool:
    """A received photo: decoded (it has a perceptual hash) and not a signature. Signatures are
    left out of the look-alike search: the same investigator signs alike in every household."""
    return attachment.sha256 is not None and attachment.phash is not None and not _is_signature(attachment)


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _iso(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def _sight_of(attachment: Attachment) -> tuple[str, str]:
    leaf = attachment.field.rsplit("/", 1)[-1]
    for sight, names in SIGHTS.items():
        if leaf == f"sight_{sight}_photo":
            return names
    return leaf, leaf


# --- the checks ------------------------------------------------------------------------------------

def _damaged_pictures(version: SubmissionVersion) -> list[Flag]:
    """A picture that passed the header check at receipt but could not be decoded afterwards. Its
    bytes are kept as received; the visit was accepted so the rest of its evidence was not stuck on
    the phone (see docs/decisions.md)."""
    return [_flag(
        "picture_damaged", "error",
        f"图片 {a.filename} 已收到但无法打开（文件损坏或不完整），请核实并视情况补拍。",
        f"The picture {a.filename} was received but cannot be opened (damaged or incomplete); "
        f"check it and take it again if needed. {a.picture_problem}",
        filename=a.filename, field=a.field,
    ) for a in version.attachments if a.picture_problem]


def _copied_signatures(session: Session, version: SubmissionVersion) -> list[Flag]:
    """A signature that is byte for byte the same file as another signature of this record, or as a
    file of another submission. A signature drawn on the phone never comes out the same twice,
    however alike the hand: the file was copied, or the canvas was saved blank."""
    signatures = [a for a in version.attachments if a.sha256 is not None and _is_signature(a)]
    if not signatures:
        return []
    elsewhere = session.execute(
        select(Attachment.sha256, Attachment.filename, Submission.id, Submission.instance_id, Household.case_number)
        .join(SubmissionVersion, Attachment.version_id == SubmissionVersion.id)
        .join(Submission, SubmissionVersion.submission_id == Submission.id)
        .outerjoin(Household, Submission.household_id == Household.id)
        .where(Attachment.sha256.in_({a.sha256 for a in signatures}), Submission.id != version.submission_id)
        .distinct().order_by(Submission.id).limit(REUSE_EXACT_LIMIT)  # a file carried by corrections: once
    ).all()
    flags = []
    for signature in signatures:
        here = [a.filename for a in signatures if a.sha256 == signature.sha256 and a is not signature]
        there = [row for row in elsewhere if row.sha256 == signature.sha256]
        if not here and not there:
            continue
        if here:
            where_zh, where_en = f"本记录中的签名 {here[0]}", f"signature {here[0]} of this record"
        else:
            first = there[0]
            household_zh = f"户 {first.case_number} 的" if first.case_number else ""
            household_en = f" of household {first.case_number}" if first.case_number else ""
            where_zh = f"{household_zh}提交 {first.instance_id} 中的文件 {first.filename}"
            where_en = f"file {first.filename} in submission {first.instance_id}{household_en}"
        flags.append(_flag(
            "signature_copied", "error",
            f"签名 {signature.filename} 与{where_zh}是同一个文件。手写的签名不会两次完全相同：它是复制来的，"
            "或是空白画布。请核实，并请签字人重新签字。",
            f"Signature {signature.filename} is the very same file as {where_en}. A signature drawn on the "
            "phone never comes out the same twice: it was copied, or the canvas was saved blank. Check it, "
            "and have the person sign again.",
            filename=signature.filename, field=signature.field, same_in_this_record=here,
            elsewhere=[{"case_number": row.case_number, "submission_id": row.id, "instance_id": row.instance_id,
                        "filename": row.filename} for row in there[:REUSE_MATCHES_SHOWN]],
            elsewhere_count=len(there),
        ))
    return flags


def _sights(record: VisitRecord) -> list[Flag]:
    if record.outcome != "done":
        return []  # the sights are asked only when the visit took place
    a = record.by_name
    missing = [s for s in SIGHTS if not a.get(f"sight_{s}_photo") and not (a.get(f"sight_{s}_reason") or "").strip()]
    if not missing:
        return []
    return [_flag(
        "sight_unexplained", "error",
        f"五见中以下项目既无照片也未说明未见原因：{'、'.join(SIGHTS[s][0] for s in missing)}。",
        f"Of the five sights, neither photographed nor explained: {', '.join(SIGHTS[s][1] for s in missing)}.",
        sights=missing,
    )]


def _people(record: VisitRecord) -> list[Flag]:
    minimum = MINIMUM_PEOPLE[record.form_id]
    names = [person["name"] for person in record.investigators]
    distinct = sorted(set(name for name in names if name))
    flags = []
    if len(distinct) < minimum:
        flags.append(_flag(
            "investigators_too_few", "error",
            f"调查人员只有 {len(distinct)} 人，至少应有 {minimum} 人入户。",
            f"Only {len(distinct)} investigator(s) named; at least {minimum} must visit.",
            count=len(distinct), minimum=minimum,
        ))
    unsigned = [person["name"] for person in record.investigators if person["name"] and not person["signature"]]
    head_missing = record.outcome == "done" and not record.by_name.get("head_signature")
    if unsigned or head_missing:
        chinese, english = [], []
        if unsigned:
            chinese.append(f"调查人员 {'、'.join(unsigned)} 未签字")
            english.append(f"investigator(s) {', '.join(unsigned)} did not sign")
        if head_missing:
            chinese.append("户主（被调查人）未签字")
            english.append("the head of household (person interviewed) did not sign")
        flags.append(_flag(
            "signature_missing", "error", "；".join(chinese) + "。", _sentence("; ".join(english)),
            unsigned_investigators=unsigned, head_signature_missing=head_missing,
        ))
    return flags


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geodesic(a, b).meters


def _location(record: VisitRecord, household: Household | None, rules: Rules) -> list[Flag]:
    place = record.location
    if place is None:
        return [_flag("no_location", "warning",
                      "本次调查没有入户定位，无法核实调查地点。",
                      "The visit has no location: where it took place cannot be checked.")]
    flags = []
    accuracy = place["accuracy"]
    if accuracy is not None and accuracy > rules.max_accuracy_m:
        flags.append(_flag(
            "poor_accuracy", "warning",
            f"入户定位精度为 {accuracy:.0f} 米，低于要求（不超过 {rules.max_accuracy_m} 米）。",
            f"The visit location's accuracy is {accuracy:.0f} m, worse than the {rules.max_accuracy_m} m required.",
            accuracy_m=round(accuracy, 1), max_accuracy_m=rules.max_accuracy_m,
        ))
    if household is not None and household.latitude is not None and household.longitude is not None:
        distance = _distance_m((place["latitude"], place["longitude"]), (household.latitude, household.longitude))
        if distance > rules.location_threshold_m:
            flags.append(_flag(
                "far_from_home", "warning",
                f"入户定位距该户登记住址 {distance:.0f} 米，超过本县允许的 {rules.location_threshold_m} 米。",
                f"The visit was recorded {distance:.0f} m from the household's registered location, "
                f"more than the county's {rules.location_threshold_m} m.",
                distance_m=round(distance), threshold_m=rules.location_threshold_m,
            ))
    return flags


def _photo_places_and_times(record: VisitRecord, photos: list[Attachment], rules: Rules) -> list[Flag]:
    place = record.location
    flags = []
    slack = timedelta(minutes=rules.photo_time_slack_minutes)
    for photo in photos:
        zh, en = _sight_of(photo)
        # A photo without EXIF position is normal (pickers and some camera apps strip it): no flag.
        if photo.exif_latitude is not None and photo.exif_longitude is not None and place is not None:
            distance = _distance_m((photo.exif_latitude, photo.exif_longitude), (place["latitude"], place["longitude"]))
            if distance > rules.photo_distance_m:
                flags.append(_flag(
                    "photo_far_from_visit", "warning",
                    f"照片 {photo.filename}（{zh}）的拍摄位置距入户定位 {distance:.0f} 米，超过允许的 {rules.photo_distance_m} 米。",
                    f"Photo {photo.filename} ({en}) was taken {distance:.0f} m from the visit location, "
                    f"more than the {rules.photo_distance_m} m allowed.",
                    filename=photo.filename, field=photo.field, distance_m=round(distance),
                    threshold_m=rules.photo_distance_m,
                ))
        start, end = record.started_at or record.ended_at, record.ended_at or record.started_at
        if photo.taken_at is None or start is None:
            continue
        if photo.taken_at < start - slack:
            minutes, side_zh, side_en = (start - photo.taken_at).total_seconds() / 60, "开始前", "before the form was started"
        elif photo.taken_at > end + slack:
            minutes, side_zh, side_en = (photo.taken_at - end).total_seconds() / 60, "结束后", "after the form was ended"
        else:
            continue
        flags.append(_flag(
            "photo_time_outside_visit", "warning",
            f"照片 {photo.filename}（{zh}）拍摄于 {_local(photo.taken_at)}，在调查{side_zh} {minutes:.0f} 分钟"
            f"（调查时间 {_local(start)}–{_local(end)}，允许前后 {rules.photo_time_slack_minutes} 分钟）。",
            f"Photo {photo.filename} ({en}) was taken at {_local(photo.taken_at)}, {minutes:.0f} minutes {side_en} "
            f"(visit {_local(start)}–{_local(end)} Beijing time, {rules.photo_time_slack_minutes} minutes allowed either side).",
            filename=photo.filename, field=photo.field, taken_at=_iso(photo.taken_at), started_at=_iso(start),
            ended_at=_iso(end), minutes_outside=round(minutes), slack_minutes=rules.photo_time_slack_minutes,
        ))
    return flags


@dataclass
class _Candidate:
    attachment_id: int
    phash: str
    sha256: str
    filename: str
    submission_id: int
    instance_id: str
    case_number: str


def _photo_reuse(session: Session, version: SubmissionVersion, household: Household | None,
                 photos: list[Attachment]) -> list[Flag]:
    if not photos:
        return []
    base = (
        select(Attachment.id, Attachment.phash, Attachment.sha256, Attachment.filename,
               Submission.id, Submission.instance_id, Household.case_number)
        .join(SubmissionVersion, Attachment.version_id == SubmissionVersion.id)
        .join(Submission, SubmissionVersion.submission_id == Submission.id)
        .join(Household, Submission.household_id == Household.id)
        .where(Attachment.phash.is_not(None), Attachment.sha256.is_not(None),
               Attachment.field.not_like("%signature"), Submission.id != version.submission_id)
    )
    if household is not None:
        base = base.where(Submission.household_id != household.id)  # a household may re-use its own photo

    candidates: dict[int, _Candidate] = {}
    hashes = sorted({photo.phash for photo in photos})
    for row in session.execute(base.where(Attachment.phash.in_(hashes)).limit(REUSE_EXACT_LIMIT * len(hashes))):
        candidates[row[0]] = _Candidate(*row)
    if household is not None:
        county_path = f"/{county_id_of(household.village)}/"
        villages = select(Area.id).where(Area.path.startswith(county_path), Area.level == "village")
        recent = (base.with_only_columns(Attachment.id, Attachment.phash)
                  .where(Household.village_id.in_(villages))
                  .order_by(Attachment.id.desc()).limit(REUSE_SCAN_LIMIT))
        near = [attachment_id for attachment_id in _near_duplicates(session, recent, hashes)
                if attachment_id not in candidates]
        for start in range(0, len(near), 500):
            for row in session.execute(base.where(Attachment.id.in_(near[start:start + 500]))):
                candidates[row[0]] = _Candidate(*row)

    flags = []
    for photo in photos:
        # Per other submission, its closest photo (an identical file first among equals).
        best: dict[int, tuple[tuple[int, bool], _Candidate]] = {}
        for candidate in candidates.values():
            distance = phash_distance(photo.phash, candidate.phash)
            if distance > SIMILAR_PHASH_DISTANCE:
                continue
            key = (distance, candidate.sha256 != photo.sha256)
            if candidate.submission_id not in best or key < best[candidate.submission_id][0]:
                best[candidate.submission_id] = (key, candidate)
        if not best:
            continue
        matches = [(distance, not different, candidate) for (distance, different), candidate
                   in sorted(best.values(), key=lambda m: (m[0], m[1].submission_id))]
        distance, identical, closest = matches[0]
        zh, en = _sight_of(photo)
        if identical:
            how_zh, how_en = "是同一个文件", "is the very same file as"
        elif distance == 0:
            how_zh, how_en = "画面相同（文件不同，感知哈希一致）", "shows the same picture (another file, equal perceptual hashes) as"
        else:
            how_zh = f"几乎相同（感知哈希相差 {distance}/64 位）"
            how_en = f"is nearly identical (perceptual hashes {distance} of 64 bits apart) to"
        others = f"；另有 {len(matches) - 1} 份其他户的提交含相似照片" if len(matches) > 1 else ""
        others_en = f"; {len(matches) - 1} more submission(s) of other households hold a similar photo" if len(matches) > 1 else ""
        flags.append(_flag(
            "photo_reused", "error" if identical else "warning",
            f"照片 {photo.filename}（{zh}）与户 {closest.case_number} 的提交 {closest.instance_id} 中的照片 "
            f"{closest.filename} {how_zh}{others}，可能是重复使用的照片，请核实。",
            f"Photo {photo.filename} ({en}) {how_en} photo {closest.filename} in submission {closest.instance_id} "
            f"of household {closest.case_number}{others_en}; it may have been re-used, please check.",
            filename=photo.filename, field=photo.field, distance_bits=distance, threshold_bits=SIMILAR_PHASH_DISTANCE,
            identical_file=identical, other_case_number=closest.case_number,
            other_submission_id=closest.submission_id, other_instance_id=closest.instance_id,
            other_filename=closest.filename,
            matches=[{"case_number": c.case_number, "submission_id": c.submission_id, "instance_id": c.instance_id,
                      "filename": c.filename, "distance_bits": d, "identical_file": same}
                     for d, same, c in matches[:REUSE_MATCHES_SHOWN]],
        ))
    return flags


def _near_duplicates(session: Session, recent, hashes: list[str]) -> list[int]:
    """Ids among the `recent` (id, phash) rows within SIMILAR_PHASH_DISTANCE of any of `hashes`.

    PostgreSQL 14+ counts the differing bits itself (bit_count of the XOR of two bit(64)), so only
    the matches leave the server; elsewhere (SQLite) the rows are compared here.
    """
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql" and (dialect.server_version_info or (0,)) >= (14,):
        first = recent.selected_columns
        scanned = recent.with_only_columns(first[0], cast(literal("x") + first[1], BIT(64)).label("bits")).subquery()
        close = [func.bit_count(scanned.c.bits.op("#")(cast(literal("x" + h), BIT(64)))) <= SIMILAR_PHASH_DISTANCE
                 for h in hashes]
        return list(session.scalars(select(scanned.c.id).where(or_(*close))))
    mine = [int(h, 16) for h in hashes]
    near = []
    for attachment_id, phash in session.execute(recent):
        theirs = int(phash, 16)
        for value in mine:
            if (theirs ^ value).bit_count() <= SIMILAR_PHASH_DISTANCE:
                near.append(attachment_id)
                break
    return near


def _red_flags(record: VisitRecord) -> list[Flag]:
    chosen = [code for code in (record.by_name.get("red_flags") or "").split() if code != "none"]
    if not chosen:
        return []
    labels = record.choice_labels("red_flags")
    zh = "；".join(labels.get(code, (code, code))[0] for code in chosen)
    en = "; ".join(labels.get(code, (code, code))[1] for code in chosen)
    return [_flag("red_flags_answered", "warning",
                  f"调查人员勾选了清退情形：{zh}。", f"Red flags answered by the investigators: {en}.",
                  red_flags=chosen)]


def _income(session: Session, record: VisitRecord, household: Household | None) -> list[Flag]:
    """Per-capita income against the standard in force, as services/eligibility.py counts income
    (self-consumed produce left out, a loss not set against other income, the county's minimum
    wage for an unproven wage). The standard is the plain one: whether the household is a
    bottom-line one (+10 %) is not known at receipt."""
    members = [m for m in record.by_name.get("members") or [] if isinstance(m, dict)]
    if household is None or record.outcome != "done" or not members:
        return []
    on = record.visit_date
    result = compute(session, household, record.by_name, on)
    if not result.income_above_standard:
        return []  # at or below the standard, or no standard set for the area: nothing to flag
    residence_zh = {"urban": "城市", "rural": "农村"}.get(household.residence, household.residence)
    total, size, standard_fen = result.household_income_fen, result.covered_persons, result.standard_fen
    per_capita_fen = result.per_capita_fen
    effective_from = result.standard_effective_from.isoformat()
    return [_flag(
        "income_above_standard", "warning",
        f"家庭人均月收入 {yuan(per_capita_fen)} 元（{size} 人，合计 {yuan(total)} 元），"
        f"高于{residence_zh}低保标准 {yuan(standard_fen)} 元（{result.standard_area_name}，"
        f"{effective_from} 起执行）。",
        f"Per-capita monthly income {yuan(per_capita_fen)} yuan ({size} member(s), "
        f"{yuan(total)} yuan in all) is above the {household.residence} standard of "
        f"{yuan(standard_fen)} yuan ({result.standard_area_name}, in force from {effective_from}).",
        per_capita_fen=per_capita_fen, standard_fen=standard_fen, household_income_fen=total,
        household_size=size, residence=household.residence, standard_area_code=result.standard_area_code,
        effective_from=effective_from, visit_date=on.isoformat(),
    )]


def _spot_check_assignment(session: Session, version: SubmissionVersion, record: VisitRecord) -> list[Flag]:
    """A spot check that belongs to no sample item (services/spotchecks.py)."""
    return assignment_flags(session, version) if record.form_id == SPOT_CHECK else []


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _not_home(session: Session, record: VisitRecord, household: Household | None, rules: Rules) -> list[Flag]:
    """The household's visits in visit order (schedule.household_visits, this one as just read);
    count the not-at-home visits in a row that end with this one."""
    if record.form_id != HOUSEHOLD_VISIT or record.outcome != "not_home" or household is None:
        return []
    visits = household_visits(session, household, fresh=record)
    position = next((i for i, v in enumerate(visits) if v.version_id == record.version_id), None)
    if position is None:
        return []
    streak = []
    for earlier in reversed(visits[: position + 1]):
        if earlier.outcome != "not_home":
            break
        streak.append(earlier.visit_date)
    limit = rules.not_home_limit
    if len(streak) < limit:
        return []
    dates = [d.isoformat() for d in reversed(streak)]
    return [_flag(
        "not_home_repeated", "warning",
        f"连续第 {len(streak)} 次入户家中无人（{'、'.join(dates)}），达到清退条件（连续 {limit} 次）。",
        f"Nobody at home for the {_ordinal(len(streak))} visit in a row ({', '.join(dates)}); "
        f"{limit} in a row is a removal condition.",
        consecutive=len(streak), limit=limit, visit_dates=dates,
    )]
