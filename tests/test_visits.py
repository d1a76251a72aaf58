"""One visit record per submission version: read once, when its checks run, from its XML and its
form audit log, stored, and read by everyone after (services/visits.py)."""
from __future__ import annotations

import importlib.util
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import null, update

from server.config import PROJECT_ROOT
from server.models import SubmissionVersion
from server.services import schedule, visits, xforms
from server.services.forms import structure_of

from .builders import household_visit
from .test_checking import post, queued, run_worker, site, version_of  # noqa: F401  (fixtures)

# Collect's form audit log as it writes it (AuditEventCSVLine): location tracking and change
# tracking on, identity tracking on; times in milliseconds since 1970. The phone has no fix for
# the first events; at 10:18:30 it moves; at 10:21 a fake-GPS app takes over (Collect reports its
# locations with accuracy 0); then the caseworker switches location off.
AUDIT_CSV = b"""event,node,start,end,latitude,longitude,accuracy,old-value,new-value,user
form start,,1781489880000,,,,,,,wangfang
location tracking enabled,,1781489880040,,,,,,,wangfang
location permissions granted,,1781489880060,,,,,,,wangfang
location providers enabled,,1781489880090,,,,,,,wangfang
question,/data/visit_type,1781489882000,1781489890000,35.0312104,104.7104211,4.5,,periodic,wangfang
question,/data/case_id,1781489890000,1781489905500,35.0312104,104.7104211,4.5,,C001,wangfang
question,/data/location,1781489910000,1781489935000,35.0313550,104.7105120,3.9,,35.03 104.71 0 5,wangfang
group questions,/data/sights,1781489935000,1781489995000,35.0313550,104.7105120,3.9,,,wangfang
question,/data/members[1]/member_name,1781490060000,1781490072250,39.9087000,116.3975000,0.0,,"Zhang, Jianguo",wangfang
question,/data/members[2]/member_name,1781490072250,1781490080000,39.9087000,116.3975000,0.0,,Li,wangfang
location providers disabled,,1781490090000,,39.9087000,116.3975000,0.0,,,wangfang
end screen,,1781490100000,1781490110000,39.9087000,116.3975000,0.0,,,wangfang
form save,,1781490110000,,39.9087000,116.3975000,0.0,,,wangfang
form exit,,1781490111000,,39.9087000,116.3975000,0.0,,,wangfang
form finalize,,1781490111000,,39.9087000,116.3975000,0.0,,,wangfang
"""


def _at(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).isoformat()


@pytest.fixture
def parses(monkeypatch):
    """How many times submission XML is parsed (services.xforms.parse_instance, through defusedxml)."""
    count = {"parses": 0}
    parse = xforms.SafeET.fromstring

    def counting(*args, **kwargs):
        count["parses"] += 1
        return parse(*args, **kwargs)

    monkeypatch.setattr(xforms.SafeET, "fromstring", counting)
    return count


def test_a_versions_xml_is_parsed_once_by_its_checks_and_never_by_its_readers(client, session, app, queued, site,
                                                                                parses):
    case = site["household"].case_number
    xml, files = household_visit(case)
    assert post(client, site["token"], xml, files).status_code == 201
    parses["parses"] = 0
    assert run_worker(session, app) == 1
    assert parses["parses"] == 1  # the checks, the due date and the record, from one parse
    version = version_of(session, xml)
    assert version.record["instance_id"] == version.instance_id and version.checked_at is not None

    parses["parses"] = 0
    assert client.get(f"/api/v1/cases/{case}/file", headers=site["supervisor"]).json["latest_visit"]["answers"]
    assert client.get(f"/api/v1/submissions/{version.submission_id}", headers=site["supervisor"]).status_code == 200
    assert client.get(f"/api/v1/submissions?case={case}", headers=site["supervisor"]).status_code == 200
    session.expire_all()
    [visit] = schedule.household_visits(session, site["household"])
    assert visit.version_id == version.id and visit.outcome == "done"
    schedule.recompute_due(session, site["household"])
    assert parses["parses"] == 0


def test_the_record_holds_what_the_visit_says(client, session, app, queued, site):
    xml, files = household_visit(site["household"].case_number, members=2)
    assert post(client, site["token"], xml, files).status_code == 201
    run_worker(session, app)
    version = version_of(session, xml)
    record = visits.record_of(version)

    assert (record.form_id, record.version_id, record.household_id) == ("household_visit", version.id,
                                                                       site["household"].id)
    assert record.form_version == version.form_version.version and record.outcome == "done"
    assert record.visit_date == date.fromisoformat(record.answers["visit_date"])
    # By path, groups flattened; a repeat a list of its instances, each by path below it.
    assert record.answers["sights/sight_head_seen"] == "yes" and "sight_head_seen" not in record.answers
    assert [m["member_name"] for m in record.answers["members"]] == [m["member_name"] for m in record.by_name["members"]]
    assert len(record.answers["members"]) == 2
    # The same answers nested as the instance is, or by name, without reading the XML again.
    structure = structure_of(version.form_version)
    tree = record.tree()
    assert tree["sights"]["sight_head_seen"] == "yes" and tree["meta"]["instanceID"] == version.instance_id
    assert tree["members"] == record.answers["members"] and tree["investigators"][0]["investigator_name"] == "王芳"
    assert record.by_name == xforms.flat_answers(tree) and record.by_name["instanceID"] == version.instance_id
    # The choices made, with their labels in each language.
    assert record.labels["outcome"] == {"done": {"zh": "已入户完成调查", "en": structure.choices["outcome"]["done"]["en"]}}
    assert record.labels["members/relation"]
    # Where: the visit's geopoint and the start-geopoint, as the phone gave them.
    assert record.location["latitude"] == version.latitude and record.location["accuracy"] == version.accuracy
    assert record.location["mock"] is False and record.start_location is not None
    assert (record.started_at, record.ended_at) == (version.started_at, version.ended_at)
    # Who went and signed, and every file the answers name.
    assert [person["name"] for person in record.investigators] == ["王芳", "李建军"]
    assert all(person["signature"] for person in record.investigators)
    assert [(s["field"], s["name"]) for s in record.signatories] == [
        ("investigators/investigator_signature", "王芳"), ("investigators/investigator_signature", "李建军"),
        ("head_signature", None)]
    assert {file["filename"] for file in record.files} == {a.filename for a in version.attachments}
    assert record.audit is not None and record.audit.trail and record.audit.finalized_at is not None
    # Stored as JSON, read back whole.
    assert visits.VisitRecord.from_json(version.record) == record


def test_the_audit_log_gives_the_trail_the_time_spent_and_a_mock_location(client, session, app, queued, site):
    xml, files = household_visit(site["household"].case_number)
    files["audit.csv"] = AUDIT_CSV
    assert post(client, site["token"], xml, files).status_code == 201
    run_worker(session, app)
    audit = visits.record_of(version_of(session, xml)).audit

    assert audit.opened_at == datetime.fromisoformat(_at(1781489880000))
    assert audit.finalized_at == datetime.fromisoformat(_at(1781490111000))
    assert audit.trail == [  # where the location changed, not every event's copy of it
        {"at": _at(1781489882000), "latitude": 35.0312104, "longitude": 104.7104211, "accuracy": 4.5},
        {"at": _at(1781489910000), "latitude": 35.031355, "longitude": 104.710512, "accuracy": 3.9},
        {"at": _at(1781490060000), "latitude": 39.9087, "longitude": 116.3975, "accuracy": 0.0},
    ]
    assert audit.mock_locations == [audit.trail[2]]
    assert audit.seconds_by_question == {"visit_type": 8.0, "case_id": 15.5, "location": 25.0, "sights": 60.0,
                                         "members[1]/member_name": 12.25, "members[2]/member_name": 7.75}
    assert audit.seconds_in_form == 8.0 + 15.5 + 25.0 + 60.0 + 12.25 + 7.75 + 10.0  # and the end screen
    assert [event["event"] for event in audit.location_events] == [
        "location tracking enabled", "location permissions granted", "location providers enabled",
        "location providers disabled"]
    assert audit.users == ["wangfang"] and audit.events == 15 and audit.problem is None


@pytest.mark.parametrize("data, problem", [
    (b"\xff\xfe\x00not text", "not UTF-8"),
    (b"when,what\n1,2\n", "no header naming the columns event and start"),
])
def test_an_audit_log_that_cannot_be_read_is_said_so_and_costs_nothing_else(client, session, app, queued, site,
                                                                             data, problem):
    xml, files = household_visit(site["household"].case_number)
    files["audit.csv"] = data
    assert post(client, site["token"], xml, files).status_code == 201
    run_worker(session, app)
    version = version_of(session, xml)
    record = visits.record_of(version)
    assert problem in record.audit.problem and record.audit.trail == []
    assert record.outcome == "done" and "checks_failed" not in {flag.code for flag in version.flags}


def test_rows_of_an_audit_log_that_are_no_event_are_skipped():
    audit = visits.read_audit(b"event,node,start,end\nform start,,soon,\nquestion,/data/a,1000,3000\n"
                              b"question,/data/b,99999999999999999999,\n")
    assert audit.events == 3 and audit.seconds_by_question == {"a": 2.0} and audit.opened_at is None


def test_a_version_not_yet_checked_is_read_from_its_xml_and_not_stored(client, session, app, queued, site):
    xml, files = household_visit(site["household"].case_number)
    assert post(client, site["token"], xml, files).status_code == 201
    version = version_of(session, xml)
    record = visits.record_of(version)
    assert version.record is None and record.outcome == "done" and record.audit is None  # the checks read it


def test_the_migration_fills_in_the_records_of_versions_checked_before_it(client, session, app, site):
    xml, files = household_visit(site["household"].case_number)
    assert post(client, site["token"], xml, files).status_code == 201  # checked in the request
    stored = version_of(session, xml).record
    session.execute(update(SubmissionVersion).where(SubmissionVersion.id == version_of(session, xml).id)
                    .values(record=null()))
    path = PROJECT_ROOT / "migrations" / "versions" / "0003_visit_records.py"
    spec = importlib.util.spec_from_file_location("visit_records_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)

    migration.fill_records(session.connection(), app.config["MEDIA_DIR"])
    assert version_of(session, xml).record == stored  # what the checks made, audit log and all
