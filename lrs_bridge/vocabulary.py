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

# The version we speak on the wire (X-Experience-API-Version header). Statements never carry "version":
# xAPI 1.0.3 Data 2.4.10 says a producer SHOULD NOT set it (the LRS fills it in).
XAPI_VERSION: Final = "1.0.3"


class Verbs:
    REGISTERED: Final = "http://adlnet.gov/expapi/verbs/registered"
    UNREGISTERED: Final = "http://id.tincanapi.com/verb/unregistered"
    SUSPENDED: Final = "http://adlnet.gov/expapi/verbs/suspended"
    RESUMED: Final = "http://adlnet.gov/expapi/verbs/resumed"
    MATCHED: Final = f"{PROFILE_IRI}/verbs/matched"
    SCHEDULED: Final = "http://activitystrea.ms/schedule"
    REQUESTED_RESCHEDULE: Final = f"{PROFILE_IRI}/verbs/requested-reschedule"
    CANCELLED: Final = "http://activitystrea.ms/cancel"
    ATTENDED: Final = "http://adlnet.gov/expapi/verbs/attended"
    MENTORED: Final = "http://id.tincanapi.com/verb/mentored"
    TALKED_WITH: Final = "http://id.tincanapi.com/verb/talked-with"
    REFLECTED: Final = f"{PROFILE_IRI}/verbs/reflected"
    REVIEWED: Final = "http://id.tincanapi.com/verb/reviewed"
    SCORED: Final = "http://adlnet.gov/expapi/verbs/scored"
    COMPLETED: Final = "http://adlnet.gov/expapi/verbs/completed"
    EARNED: Final = "http://id.tincanapi.com/verb/earned"
    VOIDED: Final = "http://adlnet.gov/expapi/verbs/voided"


# English display of each verb; statements carry it in the record's language too when known.
VERB_DISPLAY: Final[dict[str, dict[str, str]]] = {
    Verbs.REGISTERED: {"en": "registered", "de": "registrierte sich", "fr": "s'est inscrit"},
    Verbs.UNREGISTERED: {"en": "unregistered", "de": "meldete sich ab", "fr": "s'est désinscrit"},
    Verbs.SUSPENDED: {"en": "suspended", "de": "pausierte", "fr": "a suspendu"},
    Verbs.RESUMED: {"en": "resumed", "de": "setzte fort", "fr": "a repris"},
    Verbs.MATCHED: {"en": "was matched in", "de": "wurde zugeteilt in", "fr": "a été apparié dans"},
    Verbs.SCHEDULED: {"en": "scheduled", "de": "plante", "fr": "a planifié"},
    Verbs.REQUESTED_RESCHEDULE: {"en": "asked to reschedule", "de": "bat um einen neuen Termin für",
                                 "fr": "a demandé de reprogrammer"},
    Verbs.CANCELLED: {"en": "cancelled", "de": "sagte ab", "fr": "a annulé"},
    Verbs.ATTENDED: {"en": "attended", "de": "nahm teil an", "fr": "a participé à"},
    Verbs.MENTORED: {"en": "mentored", "de": "betreute", "fr": "a accompagné"},
    Verbs.TALKED_WITH: {"en": "talked with", "de": "sprach mit", "fr": "a parlé avec"},
    Verbs.REFLECTED: {"en": "reflected on", "de": "reflektierte", "fr": "a réfléchi à"},
    Verbs.REVIEWED: {"en": "reviewed", "de": "begutachtete", "fr": "a évalué"},
    Verbs.SCORED: {"en": "scored", "de": "erzielte", "fr": "a obtenu le score"},
    Verbs.COMPLETED: {"en": "completed", "de": "schloss ab", "fr": "a terminé"},
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
    ASSESSMENT: Final = "http://adlnet.gov/expapi/activities/assessment"


class Extensions:
    # Context extensions.
    ROLE: Final = f"{PROFILE_IRI}/extensions/role"
    PAUSED_UNTIL: Final = f"{PROFILE_IRI}/extensions/paused-until"
    REVIEWEE: Final = f"{PROFILE_IRI}/extensions/reviewee"  # an opaque account, never email or name
    MEETING_START: Final = f"{PROFILE_IRI}/extensions/meeting-start"
    MEETING_CALLED_OFF: Final = f"{PROFILE_IRI}/extensions/meeting-called-off"  # off for the whole match?
    PARTNERS: Final = f"{PROFILE_IRI}/extensions/partners"  # opaque accounts
    SKILLS: Final = f"{PROFILE_IRI}/extensions/skills"
    PARTNER_DEPARTMENTS: Final = f"{PROFILE_IRI}/extensions/partner-departments"
    SCORE_SOURCE: Final = f"{PROFILE_IRI}/extensions/score-source"
    SIMULATED: Final = f"{PROFILE_IRI}/extensions/simulated"  # made by `peercoach simulate`: LMSs filter on it
    # Result extensions.
    MET: Final = f"{PROFILE_IRI}/extensions/met"
    USEFULNESS: Final = f"{PROFILE_IRI}/extensions/usefulness"
    NEXT_STEP: Final = f"{PROFILE_IRI}/extensions/next-step"
    REVIEW_COUNT: Final = f"{PROFILE_IRI}/extensions/review-count"
    SCORE_INTERVAL: Final = f"{PROFILE_IRI}/extensions/score-interval"


# Where each IRI that is not ours is defined: the vocabularies published in adlnet/xapi-authored-profiles
# (the ADL verbs and activity types as the SCORM profile defines them, the Tin Can registry, Activity
# Streams). Checked once against those files; a test keeps every IRI we use either ours or in here.
VOCAB_ADL: Final = "https://w3id.org/xapi/adl"
VOCAB_SCORM: Final = "https://w3id.org/xapi/scorm"
VOCAB_TINCAN: Final = "https://registry.tincanapi.com"
VOCAB_ACTIVITY_STREAMS: Final = "http://activitystrea.ms/schema/"
CITED: Final[dict[str, str]] = {
    Verbs.REGISTERED: VOCAB_ADL,
    Verbs.ATTENDED: VOCAB_ADL,
    Verbs.VOIDED: VOCAB_ADL,
    ActivityTypes.MEETING: VOCAB_ADL,
    Verbs.SUSPENDED: VOCAB_SCORM,
    Verbs.RESUMED: VOCAB_SCORM,
    Verbs.SCORED: VOCAB_SCORM,
    Verbs.COMPLETED: VOCAB_SCORM,
    ActivityTypes.PROFILE: VOCAB_SCORM,
    ActivityTypes.ASSESSMENT: VOCAB_SCORM,
    Verbs.UNREGISTERED: VOCAB_TINCAN,
    Verbs.MENTORED: VOCAB_TINCAN,
    Verbs.TALKED_WITH: VOCAB_TINCAN,
    Verbs.REVIEWED: VOCAB_TINCAN,
    Verbs.EARNED: VOCAB_TINCAN,
    Verbs.SCHEDULED: VOCAB_ACTIVITY_STREAMS,
    Verbs.CANCELLED: VOCAB_ACTIVITY_STREAMS,
    ActivityTypes.REVIEW: VOCAB_ACTIVITY_STREAMS,
    ActivityTypes.BADGE: VOCAB_ACTIVITY_STREAMS,
}


def all_verbs() -> list[str]:
    return [v for k, v in vars(Verbs).items() if k.isupper()]


def all_activity_types() -> list[str]:
    return [v for k, v in vars(ActivityTypes).items() if k.isupper()]


def all_extensions() -> list[str]:
    return [v for k, v in vars(Extensions).items() if k.isupper()]
