"""The peercoach xAPI profile (JSON-LD, xAPI Profiles 1.0), shipped with the package.

Serve or publish ``peercoach.jsonld`` unchanged; ``lrs_bridge.vocabulary`` holds the same IRIs for code.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

PROFILE_FILE = "peercoach.jsonld"


def profile_text() -> str:
    return resources.files(__package__).joinpath(PROFILE_FILE).read_text(encoding="utf-8")


def load_profile() -> dict[str, Any]:
    document = json.loads(profile_text())
    if not isinstance(document, dict):
        raise ValueError(f"{PROFILE_FILE} is not a JSON object")
    return document
