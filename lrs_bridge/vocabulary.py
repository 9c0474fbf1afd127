"""Every IRI the bridge puts into statements, in one place so the profile test can check them all.

Standard IRIs (ADL, tincanapi.com registry, Activity Streams) are used where they exist; our own live
under :data:`PROFILE_IRI` and are defined in ``lrs_bridge/profile/peercoach.jsonld``.
"""

from __future__ import annotations

import uuid
from typing import Final

PROFILE_IRI: Final = "https://peercoach.example/xapi/profile"
PROFILE_VERSION: Final = "1.0.0"
PROFILE_VERSION_IRI: Final = f"{PROFILE_IRI}/v1.0.0"

# Statement ids are uuid5(STATEMENT_NAMESPACE, event_key): stable across processes and releases.
STATEMENT_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, PROFILE_IRI)

XAPI_VERSION: Final = "1.0.3"


class Verbs:
    REGISTERED: Final = "http://adlnet.gov/expapi/verbs/registered"
    UNREGISTERED: Final = "http://id.tincanapi.com/verb/unregistered"
    MATCHED: Final = f"{PROFILE_IRI}/verbs/matched"
    SCHEDULED: Final = "http://activitystrea.ms/schedule"
    ATTENDED: Final = "http://adlnet.gov/expapi/verbs/attended"
    MENTORED: Final = "http://id.tincanapi.com/verb/mentored"
    TALKED_WITH: Final = "http://id.tincanapi.com/verb/talked-with"
    REFLECTED: Final = f"{PROFILE_IRI}/verbs/reflected"
    REVIEWED: Final = "http://id.tincanapi.com/verb/reviewed"
    RATED: Final = "http://id.tincanapi.com/verb/rated"
    COMPLETED: Final = "http://adlnet.gov/expapi/verbs/completed"
    COMMENTED: Final = "http://adlnet.gov/expapi/verbs/commented"
    EARNED: Final = "http://id.tincanapi.com/verb/earned"
    VOIDED: Final = "http://adlnet.gov/expapi/verbs/voided"


# English display of each verb; statements carry it in the record's language too when known.
VERB_DISPLAY: Final[dict[str, dict[str, str]]] = {
    Verbs.REGISTERED: {"en": "registered", "de": "registrierte sich", "fr": "s'est inscrit"},
    Verbs.UNREGISTERED: {"en": "unregistered", "de": "meldete sich ab", "fr": "s'est désinscrit"},
    Verbs.MATCHED: {"en": "was matched in", "de": "wurde zugeteilt in", "fr": "a été apparié dans"},
    Verbs.SCHEDULED: {"en": "scheduled", "de": "plante", "fr": "a planifié"},
    Verbs.ATTENDED: {"en": "attended", "de": "nahm teil an", "fr": "a participé à"},
    Verbs.MENTORED: {"en": "mentored", "de": "betreute", "fr": "a accompagné"},
    Verbs.TALKED_WITH: {"en": "talked with", "de": "sprach mit", "fr": "a parlé avec"},
    Verbs.REFLECTED: {"en": "reflected on", "de": "reflektierte", "fr": "a réfléchi à"},
    Verbs.REVIEWED: {"en": "reviewed", "de": "begutachtete", "fr": "a évalué"},
    Verbs.RATED: {"en": "rated", "de": "bewertete", "fr": "a noté"},
    Verbs.COMPLETED: {"en": "completed", "de": "schloss ab", "fr": "a terminé"},
    Verbs.COMMENTED: {"en": "commented", "de": "kommentierte", "fr": "a commenté"},
    Verbs.EARNED: {"en": "earned", "de": "erhielt", "fr": "a obtenu"},
    Verbs.VOIDED: {"en": "voided", "de": "widerrief", "fr": "a annulé"},
}


class ActivityTypes:
    PROGRAM: Final = f"{PROFILE_IRI}/activity-types/program"
    COHORT: Final = f"{PROFILE_IRI}/activity-types/cohort"
    ROUND: Final = f"{PROFILE_IRI}/activity-types/round"
    MEETING: Final = "http://adlnet.gov/expapi/activities/meeting"
    REVIEW: Final = "http://activitystrea.ms/review"
    BADGE: Final = "http://activitystrea.ms/badge"
    PROFILE: Final = "http://adlnet.gov/expapi/activities/profile"


class Extensions:
    # Context extensions.
    ROLE: Final = f"{PROFILE_IRI}/extensions/role"
    LEAVE_KIND: Final = f"{PROFILE_IRI}/extensions/leave-kind"
    PAUSED_UNTIL: Final = f"{PROFILE_IRI}/extensions/paused-until"
    REVIEWEE: Final = f"{PROFILE_IRI}/extensions/reviewee"
    MEETING_START: Final = f"{PROFILE_IRI}/extensions/meeting-start"
    PARTNERS: Final = f"{PROFILE_IRI}/extensions/partners"
    SKILLS: Final = f"{PROFILE_IRI}/extensions/skills"
    REFLECTION: Final = "http://id.tincanapi.com/extension/reflection"
    # Result extensions.
    MET: Final = f"{PROFILE_IRI}/extensions/met"
    CRITERION: Final = f"{PROFILE_IRI}/extensions/criterion"


def all_verbs() -> list[str]:
    return [v for k, v in vars(Verbs).items() if k.isupper()]


def all_activity_types() -> list[str]:
    return [v for k, v in vars(ActivityTypes).items() if k.isupper()]


def all_extensions() -> list[str]:
    return [v for k, v in vars(Extensions).items() if k.isupper()]
