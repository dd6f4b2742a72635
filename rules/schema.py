"""The shape of a rule file, validated with pydantic (unknown keys are errors).

Each section mirrors a table of ``rules/default.toml``; docs/RULES.md explains
every key. Validation here is about form (types, ranges, glob syntax); the
meaning is compiled in :mod:`rules.ruleset`.
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Literal

from peerpulse.rules.globs import check_glob
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


def _email(value: str) -> str:
    value = value.strip().lower()
    if value.count("@") != 1 or value.startswith("@") or value.endswith("@") or " " in value:
        raise ValueError(f"{value!r} is not an email address")
    return value


def _domain(value: str) -> str:
    value = value.strip().lower().lstrip("@")
    if not value or "@" in value or " " in value or "." not in value:
        raise ValueError(f"{value!r} is not a mail domain (write it like 'example.com')")
    return value


Glob = Annotated[str, AfterValidator(check_glob)]
Email = Annotated[str, AfterValidator(_email)]
Domain = Annotated[str, AfterValidator(_domain)]
Positive = Annotated[float, Field(ge=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Identity(_Section):
    my_addresses: list[Email] = []
    internal_domains: list[Domain] = []
    alias_groups: list[list[Email]] = []

    @field_validator("alias_groups")
    @classmethod
    def _groups_have_two(cls, groups: list[list[str]]) -> list[list[str]]:
        for group in groups:
            if len(group) < 2:
                raise ValueError("an alias group lists at least two addresses of one person")
        return groups


class TitleLevel(_Section):
    name: str = Field(min_length=1, max_length=80)
    level: int = Field(ge=1, le=20)
    titles: list[Glob] = Field(min_length=1)


class Peers(_Section):
    require_manages_anyone: bool = True
    internal_only: bool = True
    exclude_my_management_chain: bool = True
    exclude_my_reports: bool = True
    departments: list[Glob] = []
    exclude_departments: list[Glob] = []
    titles: list[Glob] = []
    exclude_titles: list[Glob] = []
    tags: list[Glob] = []
    exclude_tags: list[Glob] = []
    include: list[Email] = []
    exclude: list[Email] = []
    leaders_by_title_when_chain_unknown: bool = True
    reports_by_title_when_chain_unknown: bool = True
    far_below_by_title_when_chain_unknown: bool = True
    title_levels: list[TitleLevel] = []


class EventNoise(_Section):
    max_attendees: int = Field(default=25, ge=2)
    all_hands_titles: list[Glob] = []
    exclude_titles: list[Glob] = []
    exclude_cancelled: bool = True
    exclude_declined: bool = True
    exclude_not_accepted: bool = True
    exclude_all_day: bool = True
    exclude_free: bool = True
    exclude_out_of_office: bool = True
    exclude_focus_time: bool = True
    exclude_working_location: bool = True
    exclude_self_only: bool = True


class MailNoise(_Section):
    exclude_list_id: bool = True
    exclude_list_unsubscribe: bool = True
    exclude_auto_submitted: bool = True
    precedence: list[Glob] = []
    noreply_senders: list[Glob] = []
    exclude_invitations: bool = True
    max_recipients: int = Field(default=15, ge=1)
    blocked_addresses: list[Glob] = []
    blocked_domains: list[Domain] = []
    exclude_subjects: list[Glob] = []


class Noise(_Section):
    events: EventNoise = EventNoise()
    mail: MailNoise = MailNoise()


class Weights(_Section):
    one_on_one: Positive = 3.0
    lunch: Positive = 4.0
    small_meeting: Positive = 1.0
    large_meeting: Positive = 0.5
    mail_sent: Positive = 1.0
    mail_received: Positive = 0.5
    reply_bonus: Positive = 0.5
    marked_done: Positive = 1.0


class Kinds(_Section):
    lunch_titles: list[Glob] = []
    small_meeting_max_people: int = Field(default=8, ge=3)
    weights: Weights = Weights()


class TieStrength(_Section):
    half_life_days: float = Field(default=90.0, gt=0)
    initiated_by_me_weight: float = Field(default=1.5, ge=0)
    dormant_below: float = Field(default=10.0, ge=0)  # the fading forecast's threshold; 0: off


class CadenceGroup(_Section):
    name: str = Field(min_length=1, max_length=80)
    days: int = Field(ge=1, le=3650)
    departments: list[Glob] = []
    titles: list[Glob] = []
    tags: list[Glob] = []
    people: list[Email] = []


class Influential(_Section):
    min_team_size: int | None = Field(default=15, ge=1)
    titles: list[Glob] = []
    factor: float = Field(default=0.75, gt=0, le=1)


class Cadence(_Section):
    default_days: int = Field(default=60, ge=1, le=3650)
    groups: list[CadenceGroup] = []
    influential: Influential = Influential()
    rhythm_factor: float = Field(default=3.0, ge=0, le=50)
    rhythm_min_days: int = Field(default=14, ge=1, le=3650)
    rhythm_min_gaps: int = Field(default=3, ge=1, le=8)


class KeyFunction(_Section):
    name: str = Field(min_length=1, max_length=80)
    departments: list[Glob] = Field(min_length=1)
    cadence_days: int = Field(ge=1, le=3650)


class Snooze(_Section):
    email: Email
    until: date


class Recommend(_Section):
    reconnect_size: int = Field(default=5, ge=0, le=50)
    reciprocity_size: int = Field(default=3, ge=0, le=50)
    celebrate_size: int = Field(default=5, ge=0, le=50)
    coverage_size: int = Field(default=5, ge=0, le=50)
    invitations_size: int = Field(default=1, ge=0, le=10)
    leaders_size: int = Field(default=3, ge=0, le=10)
    max_per_department: int = Field(default=2, ge=1)
    rotation_weeks: int = Field(default=12, ge=0, le=520)
    never_met_priority: float = Field(default=1.5, ge=0)  # accepted, no longer used
    reconnect_min_interactions: int = Field(default=3, ge=1)
    reconnect_min_meetings: int = Field(default=1, ge=1)
    reconnect_overdue_cap: float = Field(default=4.0, gt=0)
    first_coffee_every: int = Field(default=4, ge=0, le=52)
    already_scheduled_days: int = Field(default=14, ge=0, le=90)
    evidence_size: int = Field(default=3, ge=0, le=20)
    slots: int = Field(default=3, ge=0, le=10)
    slot_minutes: int = Field(default=45, ge=15, le=240)
    preferred_start: time = time(12, 0)
    snooze: list[Snooze] = []
    never: list[Email] = []


class Celebrate(_Section):
    subject_keywords: list[Glob] = []
    window_days: int = Field(default=14, ge=1, le=365)
    title_changes: bool = True


class Reciprocity(_Section):
    organizing_initiates: bool = True
    first_message_initiates: bool = True
    window_days: int = Field(default=180, ge=1, le=3650)
    min_difference: int = Field(default=3, ge=1)
    min_ratio: float = Field(default=2.0, ge=1)
    max_people: int = Field(default=5, ge=1)
    # A peer whose threads the owner seldom answers is keeping them informed, not
    # asking (rules.reciprocity.assess): at least this many threads in the window...
    informing_min_threads: int = Field(default=10, ge=1)
    # ... of which the owner answered at most this share.
    informing_max_answered: float = Field(default=0.1, ge=0, le=1)
    # Open threads this recent are named as replies to send; older, the step is to write.
    reply_within_days: int = Field(default=28, ge=0)


class Feedback(_Section):
    period: Literal["month", "quarter", "half"] = "quarter"
    count: int = Field(default=3, ge=0, le=20)
    not_asked_within_periods: int = Field(default=2, ge=1, le=20)
    min_interactions: int = Field(default=3, ge=1)
    max_per_department: int = Field(default=1, ge=1)


class TeamMeeting(_Section):
    min_occurrences: int = Field(default=3, ge=1)
    min_report_share: float = Field(default=0.5, gt=0, le=1)
    min_others: int = Field(default=3, ge=1)
    max_gap_days: float = Field(default=15, gt=0)
    window_weeks: int = Field(default=13, ge=1, le=104)


class Coverage(_Section):
    up_ratio: float = Field(default=1.25, ge=1)
    down_ratio: float = Field(default=0.75, gt=0, le=1)


class RulesModel(_Section):
    """A whole (merged) rule file."""

    version: Literal[1] = 1
    identity: Identity = Identity()
    peers: Peers = Peers()
    noise: Noise = Noise()
    kinds: Kinds = Kinds()
    tie_strength: TieStrength = TieStrength()
    cadence: Cadence = Cadence()
    key_functions: list[KeyFunction] = []
    recommend: Recommend = Recommend()
    celebrate: Celebrate = Celebrate()
    reciprocity: Reciprocity = Reciprocity()
    feedback: Feedback = Feedback()
    team_meeting: TeamMeeting = TeamMeeting()
    coverage: Coverage = Coverage()
