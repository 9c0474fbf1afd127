"""Compatibility alias: the assessment events now live in :mod:`teams_app.domain.assessment.events`.

Kept while other branches still import ``teams_app.domain.assessment_events``; remove once they import the new
path.
"""

from teams_app.domain.assessment.events import *  # noqa: F403
