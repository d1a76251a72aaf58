"""baseline: the whole schema at once, with the triggers that keep the audit log append-only and
the phones' list versions

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-04 12:00:00

The history before it (areas and users to the phones' list versions, sixteen revisions on three
branches) was squashed into this one revision before anything was deployed. New revisions go on
top, one line: tests/test_migrations.py checks that there is one head.

Two sets of triggers, not the application, keep what every write path must keep, in the same
transaction as the row (the API, the phone's upload, the CLI, the check worker, an import, a
hand-made statement):

- audit_events is append-only: the log is evidence, even a bug or a hand-typed statement cannot
  rewrite it.
- list_versions holds a change counter per area, so a phone's cases.csv is rebuilt only when it
  changed, and every worker process sees it. What each trigger covers is what
  server/services/cases.py cases_csv reads: an area's row (a village's name, its path), its
  households (any column), their submissions (which is the latest, its form, review state and
  reason) and the area's redo orders. The counter only grows.
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0001_baseline'
down_revision = None
branch_labels = None
depends_on = None

REFUSAL = "audit_events is append-only"

# A new area's counter. No foreign key and no cascade: SQLite may give a deleted area's id to a new
# one, whose counter then goes on from the old one's instead of starting again at a value seen before.
ADDED = ("INSERT INTO list_versions (area_id, version) VALUES (NEW.id, 0) "
         "ON CONFLICT (area_id) DO UPDATE SET version = list_versions.version + 1")
BUMP = "UPDATE list_versions SET version = version + 1 WHERE area_id = {area}"
VILLAGE_OF = "(SELECT village_id FROM households WHERE id = {row}.household_id)"
SUBMISSION_COLUMNS = "household_id, form_pk, review_state, review_reason"

# (trigger name, table, event for SQLite, condition, area expressions by row: OLD and/or NEW)
SQLITE_TRIGGERS = [
    ("households", "INSERT", None, ["NEW.village_id"]),
    ("households", "UPDATE", None, ["OLD.village_id", "NEW.village_id"]),
    ("households", "DELETE", None, ["OLD.village_id"]),
    ("submissions", "INSERT", "NEW.household_id IS NOT NULL", [VILLAGE_OF.format(row="NEW")]),
    ("submissions", f"UPDATE OF {SUBMISSION_COLUMNS}", None,
     [VILLAGE_OF.format(row="OLD"), VILLAGE_OF.format(row="NEW")]),
    ("submissions", "DELETE", "OLD.household_id IS NOT NULL", [VILLAGE_OF.format(row="OLD")]),
    ("village_redos", "INSERT", None, ["NEW.village_id"]),
    ("village_redos", "UPDATE", None, ["OLD.village_id", "NEW.village_id"]),
    ("village_redos", "DELETE", None, ["OLD.village_id"]),
    ("areas", "UPDATE", None, ["NEW.id"]),
]

# PostgreSQL: one function per table; OLD is NULL in an INSERT trigger and NEW in a DELETE one.
POSTGRES_FUNCTIONS = {
    "households": ("INSERT OR UPDATE OR DELETE", ["OLD.village_id", "NEW.village_id"]),
    "submissions": (f"INSERT OR UPDATE OF {SUBMISSION_COLUMNS} OR DELETE",
                    [VILLAGE_OF.format(row="OLD"), VILLAGE_OF.format(row="NEW")]),
    "village_redos": ("INSERT OR UPDATE OR DELETE", ["OLD.village_id", "NEW.village_id"]),
    "areas": ("UPDATE", ["NEW.id"]),
}


def upgrade() -> None:
    op.create_table('areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(level = 'county') = (parent_id IS NULL)", name=op.f('ck_areas_only_counties_are_roots')),
    sa.CheckConstraint("level IN ('county', 'township', 'village')", name=op.f('ck_areas_level')),
    sa.ForeignKeyConstraint(['parent_id'], ['areas.id'], name=op.f('fk_areas_parent_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_areas')),
    sa.UniqueConstraint('code', name=op.f('uq_areas_code'))
    )
    op.create_index(op.f('ix_areas_parent_id'), 'areas', ['parent_id'], unique=False)
    op.create_index(op.f('ix_areas_path'), 'areas', ['path'], unique=False)
    op.create_table('forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forms')),
    sa.UniqueConstraint('form_id', name=op.f('uq_forms_form_id'))
    )
    op.create_table('list_versions',
    sa.Column('area_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('area_id', name=op.f('pk_list_versions'))
    )
    op.create_table('sign_in_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username', 'address', name=op.f('pk_sign_in_failures'))
    )
    op.create_index(op.f('ix_sign_in_failures_last_failed_at'), 'sign_in_failures', ['last_failed_at'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'county', 'supervisor', 'caseworker')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)
    op.create_index('uq_api_tokens_live_name', 'api_tokens', ['user_id', 'name'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
    op.create_table('assistance_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('bottom_line_uplift_percent', sa.Integer(), server_default='10', nullable=False),
    sa.Column('supplement_sanwu_urban_fen', sa.Integer(), server_default='2500', nullable=False),
    sa.Column('supplement_sanwu_rural_fen', sa.Integer(), server_default='1000', nullable=False),
    sa.Column('supplement_severe_disability_urban_fen', sa.Integer(), server_default='2500', nullable=False),
    sa.Column('supplement_severe_disability_rural_fen', sa.Integer(), server_default='1000', nullable=False),
    sa.Column('supplement_serious_illness_urban_fen', sa.Integer(), server_default='2500', nullable=False),
    sa.Column('supplement_serious_illness_rural_fen', sa.Integer(), server_default='1000', nullable=False),
    sa.Column('supplement_age_80_urban_fen', sa.Integer(), server_default='2500', nullable=False),
    sa.Column('supplement_age_80_rural_fen', sa.Integer(), server_default='1000', nullable=False),
    sa.Column('minimum_wage_fen', sa.Integer(), nullable=True),
    sa.Column('ineligible_red_flags', sa.JSON(), server_default='["owns_vehicle_or_machinery", "bought_housing_or_large_house", "business_or_rental_income", "luxury_goods", "pension_above_standard"]', nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('bottom_line_uplift_percent >= 0', name=op.f('ck_assistance_rules_bottom_line_uplift_percent_not_negative')),
    sa.CheckConstraint('minimum_wage_fen IS NULL OR minimum_wage_fen > 0', name=op.f('ck_assistance_rules_minimum_wage_fen_positive')),
    sa.CheckConstraint('supplement_sanwu_urban_fen >= 0 AND supplement_sanwu_rural_fen >= 0 AND supplement_severe_disability_urban_fen >= 0 AND supplement_severe_disability_rural_fen >= 0 AND supplement_serious_illness_urban_fen >= 0 AND supplement_serious_illness_rural_fen >= 0 AND supplement_age_80_urban_fen >= 0 AND supplement_age_80_rural_fen >= 0', name=op.f('ck_assistance_rules_supplements_not_negative')),
    sa.ForeignKeyConstraint(['county_id'], ['areas.id'], name=op.f('fk_assistance_rules_county_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistance_rules')),
    sa.UniqueConstraint('county_id', 'effective_from', name=op.f('uq_assistance_rules_county_id_effective_from'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=100), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_audit_events_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_events_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index(op.f('ix_audit_events_action'), 'audit_events', ['action'], unique=False)
    op.create_index('ix_audit_events_area_id_at', 'audit_events', ['area_id', 'at'], unique=False)
    op.create_index(op.f('ix_audit_events_at'), 'audit_events', ['at'], unique=False)
    op.create_index('ix_audit_events_object', 'audit_events', ['object_type', 'object_id'], unique=False)
    op.create_index(op.f('ix_audit_events_user_id'), 'audit_events', ['user_id'], unique=False)
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('township_ids', sa.JSON(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('population', sa.String(length=20), nullable=False),
    sa.Column('rate_permille', sa.Integer(), nullable=False),
    sa.Column('error_threshold_permille', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('drawn_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("population IN ('approved_visits', 'active_households')", name=op.f('ck_campaigns_population')),
    sa.CheckConstraint('error_threshold_permille BETWEEN 0 AND 1000', name=op.f('ck_campaigns_threshold')),
    sa.CheckConstraint('period_start <= period_end', name=op.f('ck_campaigns_period')),
    sa.CheckConstraint('rate_permille BETWEEN 1 AND 1000', name=op.f('ck_campaigns_rate')),
    sa.ForeignKeyConstraint(['county_id'], ['areas.id'], name=op.f('fk_campaigns_county_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_campaigns_created_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    op.create_index(op.f('ix_campaigns_county_id'), 'campaigns', ['county_id'], unique=False)
    op.create_table('county_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('location_threshold_m', sa.Integer(), server_default='300', nullable=False),
    sa.Column('max_accuracy_m', sa.Integer(), server_default='50', nullable=False),
    sa.Column('photo_distance_m', sa.Integer(), server_default='500', nullable=False),
    sa.Column('photo_time_slack_minutes', sa.Integer(), server_default='30', nullable=False),
    sa.Column('not_home_limit', sa.Integer(), server_default='3', nullable=False),
    sa.Column('sample_rate_permille', sa.Integer(), server_default='300', nullable=False),
    sa.Column('error_threshold_permille', sa.Integer(), server_default='20', nullable=False),
    sa.Column('income_tolerance_permille', sa.Integer(), server_default='100', nullable=False),
    sa.Column('error_items', sa.JSON(), server_default='["household_size", "income", "category", "eligibility"]', nullable=False),
    sa.Column('updated_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('income_tolerance_permille BETWEEN 0 AND 1000', name=op.f('ck_county_rules_income_tolerance_permille')),
    sa.CheckConstraint('location_threshold_m > 0', name=op.f('ck_county_rules_location_threshold_m_positive')),
    sa.CheckConstraint('max_accuracy_m > 0', name=op.f('ck_county_rules_max_accuracy_m_positive')),
    sa.CheckConstraint('not_home_limit > 0', name=op.f('ck_county_rules_not_home_limit_positive')),
    sa.CheckConstraint('photo_distance_m > 0', name=op.f('ck_county_rules_photo_distance_m_positive')),
    sa.CheckConstraint('photo_time_slack_minutes >= 0', name=op.f('ck_county_rules_photo_time_slack_minutes_not_negative')),
    sa.ForeignKeyConstraint(['county_id'], ['areas.id'], name=op.f('fk_county_rules_county_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_county_rules')),
    sa.UniqueConstraint('county_id', name=op.f('uq_county_rules_county_id'))
    )
    op.create_table('form_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_pk', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('md5', sa.String(length=32), nullable=False),
    sa.Column('media_files', sa.JSON(), nullable=False),
    sa.Column('source_filename', sa.String(length=255), nullable=False),
    sa.Column('source', sa.LargeBinary(), nullable=False),
    sa.Column('published_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['form_pk'], ['forms.id'], name=op.f('fk_form_versions_form_pk_forms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_form_versions_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_versions')),
    sa.UniqueConstraint('form_pk', 'version', name=op.f('uq_form_versions_form_pk_version'))
    )
    op.create_index(op.f('ix_form_versions_form_pk'), 'form_versions', ['form_pk'], unique=False)
    op.create_table('households',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_number', sa.String(length=32), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('head_name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('residence', sa.String(length=5), nullable=False),
    sa.Column('category', sa.String(length=1), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('next_visit_due', sa.Date(), nullable=True),
    sa.Column('monthly_amount_fen', sa.Integer(), nullable=True),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IS NULL OR category IN ('A', 'B', 'C')", name=op.f('ck_households_category')),
    sa.CheckConstraint("residence IN ('urban', 'rural')", name=op.f('ck_households_residence')),
    sa.CheckConstraint("status IN ('applicant', 'active', 'suspended', 'removed')", name=op.f('ck_households_status')),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL)', name=op.f('ck_households_location_whole')),
    sa.CheckConstraint('latitude IS NULL OR (latitude BETWEEN -90 AND 90)', name=op.f('ck_households_latitude')),
    sa.CheckConstraint('longitude IS NULL OR (longitude BETWEEN -180 AND 180)', name=op.f('ck_households_longitude')),
    sa.ForeignKeyConstraint(['village_id'], ['areas.id'], name=op.f('fk_households_village_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households')),
    sa.UniqueConstraint('case_number', name=op.f('uq_households_case_number'))
    )
    op.create_index(op.f('ix_households_next_visit_due'), 'households', ['next_visit_due'], unique=False)
    op.create_index(op.f('ix_households_village_id'), 'households', ['village_id'], unique=False)
    op.create_table('phone_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_phone_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_phone_tokens_token_hash'))
    )
    op.create_index(op.f('ix_phone_tokens_user_id'), 'phone_tokens', ['user_id'], unique=False)
    op.create_index('uq_phone_tokens_live_user', 'phone_tokens', ['user_id'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
    op.create_table('standards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('residence', sa.String(length=5), nullable=False),
    sa.Column('monthly_fen', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("residence IN ('urban', 'rural')", name=op.f('ck_standards_residence')),
    sa.CheckConstraint('monthly_fen > 0', name=op.f('ck_standards_monthly_fen_positive')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_standards_area_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards')),
    sa.UniqueConstraint('area_id', 'residence', 'effective_from', name=op.f('uq_standards_area_id_residence_effective_from'))
    )
    op.create_table('user_areas',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_user_areas_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_areas_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'area_id', name=op.f('pk_user_areas'))
    )
    op.create_index(op.f('ix_user_areas_area_id'), 'user_areas', ['area_id'], unique=False)
    op.create_table('visit_frequency_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('yearly_categories', sa.String(length=20), server_default='A', nullable=False),
    sa.Column('able_to_work', sa.String(length=20), server_default='full', nullable=False),
    sa.Column('unstable_if_operating_income', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('unstable_if_wage_unproven', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('unstable_if_able_without_income', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('yearly_months', sa.Integer(), server_default='12', nullable=False),
    sa.Column('stable_months', sa.Integer(), server_default='6', nullable=False),
    sa.Column('unstable_urban_months', sa.Integer(), server_default='1', nullable=False),
    sa.Column('unstable_rural_months', sa.Integer(), server_default='3', nullable=False),
    sa.Column('not_home_retry_days', sa.Integer(), server_default='7', nullable=False),
    sa.Column('annual_review', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('review_start_month', sa.Integer(), server_default='8', nullable=False),
    sa.Column('review_start_day', sa.Integer(), server_default='1', nullable=False),
    sa.Column('review_end_month', sa.Integer(), server_default='9', nullable=False),
    sa.Column('review_end_day', sa.Integer(), server_default='30', nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('not_home_retry_days > 0', name=op.f('ck_visit_frequency_rules_not_home_retry_days_positive')),
    sa.CheckConstraint('review_start_day BETWEEN 1 AND 31 AND review_end_day BETWEEN 1 AND 31', name=op.f('ck_visit_frequency_rules_review_days')),
    sa.CheckConstraint('review_start_month BETWEEN 1 AND 12 AND review_end_month BETWEEN 1 AND 12', name=op.f('ck_visit_frequency_rules_review_months')),
    sa.CheckConstraint('stable_months > 0', name=op.f('ck_visit_frequency_rules_stable_months_positive')),
    sa.CheckConstraint('unstable_rural_months > 0', name=op.f('ck_visit_frequency_rules_unstable_rural_months_positive')),
    sa.CheckConstraint('unstable_urban_months > 0', name=op.f('ck_visit_frequency_rules_unstable_urban_months_positive')),
    sa.CheckConstraint('yearly_months > 0', name=op.f('ck_visit_frequency_rules_yearly_months_positive')),
    sa.ForeignKeyConstraint(['county_id'], ['areas.id'], name=op.f('fk_visit_frequency_rules_county_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_frequency_rules')),
    sa.UniqueConstraint('county_id', 'effective_from', name=op.f('uq_visit_frequency_rules_county_id_effective_from'))
    )
    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('relation', sa.String(length=10), nullable=False),
    sa.Column('sex', sa.String(length=6), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('id_number', sa.String(length=18), nullable=True),
    sa.Column('disability_grade', sa.SmallInteger(), nullable=True),
    sa.Column('work_capacity', sa.String(length=7), nullable=True),
    sa.CheckConstraint("relation IN ('head', 'spouse', 'child', 'parent', 'grandchild', 'sibling', 'other')", name=op.f('ck_members_relation')),
    sa.CheckConstraint("sex IN ('male', 'female')", name=op.f('ck_members_sex')),
    sa.CheckConstraint("work_capacity IS NULL OR work_capacity IN ('full', 'partial', 'none')", name=op.f('ck_members_work_capacity')),
    sa.CheckConstraint('disability_grade IS NULL OR disability_grade BETWEEN 1 AND 4', name=op.f('ck_members_disability_grade')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_members_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members'))
    )
    op.create_index(op.f('ix_members_household_id'), 'members', ['household_id'], unique=False)
    op.create_index(op.f('ix_members_id_number'), 'members', ['id_number'], unique=False)
    op.create_table('status_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=10), nullable=False),
    sa.Column('to_status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_status_changes_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_status_changes_household_id_households'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_changes'))
    )
    op.create_index(op.f('ix_status_changes_household_id'), 'status_changes', ['household_id'], unique=False)
    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_pk', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.String(length=255), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('review_state', sa.String(length=10), server_default='received', nullable=False),
    sa.Column('review_reason', sa.Text(), server_default='', nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('row_version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("review_state IN ('received', 'approved') OR review_reason <> ''", name=op.f('ck_submissions_reason_given')),
    sa.CheckConstraint("review_state IN ('received', 'approved', 'returned', 'rejected')", name=op.f('ck_submissions_review_state')),
    sa.ForeignKeyConstraint(['form_pk'], ['forms.id'], name=op.f('fk_submissions_form_pk_forms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_submissions_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_submissions_reviewed_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_submissions_submitted_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['village_id'], ['areas.id'], name=op.f('fk_submissions_village_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('form_pk', 'instance_id', name=op.f('uq_submissions_form_pk_instance_id'))
    )
    op.create_index(op.f('ix_submissions_household_id'), 'submissions', ['household_id'], unique=False)
    op.create_index(op.f('ix_submissions_submitted_by_id'), 'submissions', ['submitted_by_id'], unique=False)
    op.create_index(op.f('ix_submissions_village_id'), 'submissions', ['village_id'], unique=False)
    op.create_table('village_redos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('flagged_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('sampled', sa.Integer(), nullable=False),
    sa.Column('checked', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('threshold_permille', sa.Integer(), nullable=False),
    sa.Column('withdrawn_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_reason', sa.String(length=500), nullable=True),
    sa.Column('errors_at_withdrawal', sa.Integer(), nullable=True),
    sa.CheckConstraint('(withdrawn_at IS NULL) = (withdrawn_by_id IS NULL) AND (withdrawn_at IS NULL) = (withdrawn_reason IS NULL) AND (withdrawn_at IS NULL) = (errors_at_withdrawal IS NULL)', name=op.f('ck_village_redos_withdrawal_whole')),
    sa.CheckConstraint('errors <= checked AND checked <= sampled', name=op.f('ck_village_redos_figures')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_village_redos_campaign_id_campaigns'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['village_id'], ['areas.id'], name=op.f('fk_village_redos_village_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'], name=op.f('fk_village_redos_withdrawn_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_village_redos'))
    )
    op.create_index(op.f('ix_village_redos_campaign_id'), 'village_redos', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_village_redos_village_id'), 'village_redos', ['village_id'], unique=False)
    op.create_index('uq_village_redos_open', 'village_redos', ['campaign_id', 'village_id'], unique=True, sqlite_where=sa.text('withdrawn_at IS NULL'), postgresql_where=sa.text('withdrawn_at IS NULL'))
    op.create_table('approval_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('basis_submission_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('open', 'approved', 'refused')", name=op.f('ck_approval_rounds_state')),
    sa.ForeignKeyConstraint(['basis_submission_id'], ['submissions.id'], name=op.f('fk_approval_rounds_basis_submission_id_submissions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_approval_rounds_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_approval_rounds_opened_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_rounds'))
    )
    op.create_index(op.f('ix_approval_rounds_household_id'), 'approval_rounds', ['household_id'], unique=False)
    op.create_index('uq_approval_rounds_open', 'approval_rounds', ['household_id'], unique=True, sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))
    op.create_table('review_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('approved', 'returned', 'rejected', 'comment', 'resubmitted')", name=op.f('ck_review_events_kind')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_review_events_author_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_review_events_submission_id_submissions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_events'))
    )
    op.create_index(op.f('ix_review_events_submission_id'), 'review_events', ['submission_id'], unique=False)
    op.create_table('sample_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('original_submission_id', sa.Integer(), nullable=True),
    sa.Column('original_investigator_id', sa.Integer(), nullable=True),
    sa.Column('checker_id', sa.Integer(), nullable=True),
    sa.Column('check_submission_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.String(length=10), nullable=True),
    sa.Column('comparison', sa.JSON(), nullable=True),
    sa.CheckConstraint("result IS NULL OR result IN ('agree', 'differ', 'error')", name=op.f('ck_sample_items_result')),
    sa.CheckConstraint('(result IS NULL) = (checked_at IS NULL)', name=op.f('ck_sample_items_result_checked')),
    sa.CheckConstraint('checker_id IS NULL OR original_investigator_id IS NULL OR checker_id <> original_investigator_id', name=op.f('ck_sample_items_checker_not_original')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_sample_items_campaign_id_campaigns'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['check_submission_id'], ['submissions.id'], name=op.f('fk_sample_items_check_submission_id_submissions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['checker_id'], ['users.id'], name=op.f('fk_sample_items_checker_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_sample_items_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['original_investigator_id'], ['users.id'], name=op.f('fk_sample_items_original_investigator_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['original_submission_id'], ['submissions.id'], name=op.f('fk_sample_items_original_submission_id_submissions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['village_id'], ['areas.id'], name=op.f('fk_sample_items_village_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_items')),
    sa.UniqueConstraint('campaign_id', 'household_id', name=op.f('uq_sample_items_campaign_id_household_id'))
    )
    op.create_index(op.f('ix_sample_items_campaign_id'), 'sample_items', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_sample_items_check_submission_id'), 'sample_items', ['check_submission_id'], unique=False)
    op.create_index(op.f('ix_sample_items_checker_id'), 'sample_items', ['checker_id'], unique=False)
    op.create_index(op.f('ix_sample_items_household_id'), 'sample_items', ['household_id'], unique=False)
    op.create_index(op.f('ix_sample_items_village_id'), 'sample_items', ['village_id'], unique=False)
    op.create_table('submission_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('form_pk', sa.Integer(), nullable=False),
    sa.Column('form_version_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.String(length=255), nullable=False),
    sa.Column('deprecated_id', sa.String(length=255), nullable=True),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('xml_sha256', sa.String(length=64), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('is_complete', sa.Boolean(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('received_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('accuracy', sa.Float(), nullable=True),
    sa.Column('started_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('checked_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('check_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('check_lease_until', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['form_pk'], ['forms.id'], name=op.f('fk_submission_versions_form_pk_forms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['form_version_id'], ['form_versions.id'], name=op.f('fk_submission_versions_form_version_id_form_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_submission_versions_submission_id_submissions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_submission_versions_submitted_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_versions')),
    sa.UniqueConstraint('form_pk', 'instance_id', name=op.f('uq_submission_versions_form_pk_instance_id'))
    )
    op.create_index(op.f('ix_submission_versions_form_version_id'), 'submission_versions', ['form_version_id'], unique=False)
    op.create_index(op.f('ix_submission_versions_submission_id'), 'submission_versions', ['submission_id'], unique=False)
    op.create_index('ix_submission_versions_unchecked', 'submission_versions', ['id'], unique=False, sqlite_where=sa.text('checked_at IS NULL'), postgresql_where=sa.text('checked_at IS NULL'))
    op.create_index('uq_submission_versions_current', 'submission_versions', ['submission_id'], unique=True, sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))
    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('field', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('received_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('taken_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('exif_latitude', sa.Float(), nullable=True),
    sa.Column('exif_longitude', sa.Float(), nullable=True),
    sa.Column('camera', sa.String(length=255), nullable=True),
    sa.Column('phash', sa.String(length=16), nullable=True),
    sa.Column('thumbnail_sha256', sa.String(length=64), nullable=True),
    sa.Column('inspected_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('picture_problem', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['submission_versions.id'], name=op.f('fk_attachments_version_id_submission_versions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments')),
    sa.UniqueConstraint('version_id', 'filename', name=op.f('uq_attachments_version_id_filename'))
    )
    op.create_index(op.f('ix_attachments_phash'), 'attachments', ['phash'], unique=False)
    op.create_index(op.f('ix_attachments_sha256'), 'attachments', ['sha256'], unique=False)
    op.create_table('flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['submission_versions.id'], name=op.f('fk_flags_version_id_submission_versions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags'))
    )
    op.create_index(op.f('ix_flags_version_id'), 'flags', ['version_id'], unique=False)
    op.create_table('level_opinions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('opinion', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=1), nullable=True),
    sa.Column('monthly_amount_fen', sa.Integer(), nullable=True),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IS NULL OR category IN ('A', 'B', 'C')", name=op.f('ck_level_opinions_category')),
    sa.CheckConstraint("level IN ('village', 'township', 'county')", name=op.f('ck_level_opinions_level')),
    sa.CheckConstraint("outcome IN ('agree', 'disagree')", name=op.f('ck_level_opinions_outcome')),
    sa.CheckConstraint('monthly_amount_fen IS NULL OR monthly_amount_fen >= 0', name=op.f('ck_level_opinions_amount')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_level_opinions_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['round_id'], ['approval_rounds.id'], name=op.f('fk_level_opinions_round_id_approval_rounds'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_level_opinions')),
    sa.UniqueConstraint('round_id', 'level', name=op.f('uq_level_opinions_round_id_level'))
    )
    op.create_index(op.f('ix_level_opinions_round_id'), 'level_opinions', ['round_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    for operation in ("UPDATE", "DELETE"):
        op.execute(f"""CREATE TRIGGER audit_events_no_{operation.lower()} BEFORE {operation} ON audit_events
                       BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {operation} refused'); END""")
    op.execute("CREATE TRIGGER list_versions_area_added AFTER INSERT ON areas FOR EACH ROW BEGIN "
               f"{ADDED}; END")
    for table, event, condition, areas in SQLITE_TRIGGERS:
        name = f"list_versions_{table}_{event.split()[0].lower()}"
        when = f" WHEN {condition}" if condition else ""
        body = " ".join(BUMP.format(area=area) + ";" for area in _distinct(areas))
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {body} END")


def _distinct(areas: list[str]) -> list[str]:
    """OLD's and NEW's area bumped once when they are the same (one UPDATE of both)."""
    if len(areas) == 1:
        return areas
    return [f"{areas[0]} OR area_id = {areas[1]}"]


def _postgres_triggers() -> None:
    op.execute(f"""
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP;
        END $$""")
    op.execute("""CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
                  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""")
    op.execute("""CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
                  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()""")
    op.execute(f"""
        CREATE FUNCTION list_versions_area_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {ADDED};
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER list_versions_area_added AFTER INSERT ON areas "
               "FOR EACH ROW EXECUTE FUNCTION list_versions_area_added()")
    for table, (events, areas) in POSTGRES_FUNCTIONS.items():
        area = " OR area_id = ".join(areas)
        op.execute(f"""
            CREATE FUNCTION list_versions_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {BUMP.format(area=area)};
                RETURN NULL;
            END $$""")
        op.execute(f"CREATE TRIGGER list_versions_{table} AFTER {events} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION list_versions_{table}()")


def downgrade() -> None:
    """Everything goes: the tables take their indexes and triggers with them, PostgreSQL's trigger
    functions are dropped after them."""
    op.drop_table('level_opinions')
    op.drop_table('flags')
    op.drop_table('attachments')
    op.drop_table('submission_versions')
    op.drop_table('sample_items')
    op.drop_table('review_events')
    op.drop_table('approval_rounds')
    op.drop_table('village_redos')
    op.drop_table('submissions')
    op.drop_table('status_changes')
    op.drop_table('members')
    op.drop_table('visit_frequency_rules')
    op.drop_table('user_areas')
    op.drop_table('standards')
    op.drop_table('phone_tokens')
    op.drop_table('households')
    op.drop_table('form_versions')
    op.drop_table('county_rules')
    op.drop_table('campaigns')
    op.drop_table('audit_events')
    op.drop_table('assistance_rules')
    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('sign_in_failures')
    op.drop_table('list_versions')
    op.drop_table('forms')
    op.drop_table('areas')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_events_append_only()")
        op.execute("DROP FUNCTION list_versions_area_added()")
        for table in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION list_versions_{table}()")
