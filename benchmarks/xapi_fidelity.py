"""Benchmark: do the learning records of a whole simulated program mean what they say, in a real LRS?

Runs ``peercoach simulate`` (``teams_app.entrypoints.simulate.Simulation``, the same code as the command:
people join through the bot, rounds with check-ins, peer assessments whose feedback is released, pauses and
resumes, people leaving, two erasure requests, the program's end) into a fresh local ralph LRS started
here and handed to the simulation explicitly, then reads everything back and audits it
(``lrs_bridge.audit``). Simulated time ends at the present, so nothing may be dated in the future.

Run: python benchmarks/xapi_fidelity.py [--participants 300] [--rounds 4] [--report-dir DIR]
The last line printed is one JSON object: statements, template_conformance, pattern_conformance,
spec_violations, erased_people_named, future_timestamps, dead_lettered, posts_per_statement.
Targets: conformance 1.0, the counts 0, posts_per_statement <= 0.05.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


async def run(participants: int, rounds: int, workdir: Path, erasures: int = 2) -> dict[str, Any]:
    from lrs_bridge.audit import audit_statements, read_statements, render
    from lrs_bridge.client import LrsClient
    from lrs_bridge.vocabulary import Verbs
    from teams_app.config import Settings
    from teams_app.devstack import start_local_lrs
    from teams_app.entrypoints.simulate import LrsTarget, Simulation

    lrs = await asyncio.to_thread(start_local_lrs, workdir / "lrs")
    try:
        settings = Settings.model_validate({"bot": {"dev_mode": True}})  # the simulation serves the bot locally
        simulation = Simulation(settings, participants, rounds, seed=15, workdir=workdir / "simulation",
                                say=lambda line: print(line, file=sys.stderr), erasures=erasures,
                                lrs=LrsTarget(lrs.endpoint, lrs.username, lrs.password))
        summary = await simulation.run()
        async with LrsClient(lrs.endpoint, username=lrs.username, password=lrs.password, timeout_s=60) as client:
            statements = await read_statements(client)
        audit = audit_statements(statements, endpoint=lrs.endpoint)
        voided = {s["object"]["id"] for s in statements if s["verb"]["id"] == Verbs.VOIDED}
        live = [json.dumps(s) for s in statements if s["id"] not in voided]
        named = sum(1 for text in live for person in summary["erased_people"]
                    if person["email"] in text or person["name"] in text)
        print(render(audit), file=sys.stderr)
        delivery = simulation.delivery
        return {
            "participants": participants, "rounds": rounds, "lifecycle": summary["lifecycle"],
            "statements": audit.statements,
            "template_conformance": round(audit.template_conformance, 4),
            "pattern_conformance": round(audit.pattern_conformance, 4),
            "spec_violations": audit.spec_violations, "erased_people_named": named,
            "future_timestamps": audit.future_timestamps,
            "dead_lettered": delivery.dead_lettered + delivery.undelivered,
            "refused": delivery.refused,
            "posts_per_statement": round(delivery.posts / max(delivery.delivered, 1), 4),
            "elapsed_s": summary["elapsed_s"],
        }
    finally:
        await asyncio.to_thread(lrs.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--erasures", type=int, default=2)
    parser.add_argument("--report-dir", type=Path, help="Keep the simulated program's report (HTML and CSVs) here.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("aiohttp.access", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args.participants, args.rounds, Path(tmp), args.erasures))
        if args.report_dir:
            shutil.copytree(Path(tmp) / "simulation" / "report", args.report_dir, dirs_exist_ok=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
