"""The referral's states and who may make each move: the one place these rules live.

    draft → sent → acknowledged → accepted | declined → scheduled → attended | no_show → closed

plus ``cancelled`` from the school side at any point before attendance. The school side creates,
sends and cancels; the hospital side acknowledges, accepts or declines, schedules (and
reschedules), and records attendance and feedback. Either side closes a referral once attendance
is recorded (the hospital with its feedback; the school after a missed appointment).
"""

from __future__ import annotations

from screening.referrals.models import Referral

S = Referral.State
SCHOOL = "school"
HOSPITAL = "hospital"

# (from, to) → the sides that may make the move.
MOVES: dict[tuple[str, str], frozenset[str]] = {
    (S.DRAFT, S.SENT): frozenset({SCHOOL}),
    (S.SENT, S.ACKNOWLEDGED): frozenset({HOSPITAL}),
    (S.ACKNOWLEDGED, S.ACCEPTED): frozenset({HOSPITAL}),
    (S.ACKNOWLEDGED, S.DECLINED): frozenset({HOSPITAL}),
    (S.ACCEPTED, S.SCHEDULED): frozenset({HOSPITAL}),
    (S.SCHEDULED, S.SCHEDULED): frozenset({HOSPITAL}),  # a new time
    (S.SCHEDULED, S.ATTENDED): frozenset({HOSPITAL}),
    (S.SCHEDULED, S.NO_SHOW): frozenset({HOSPITAL}),
    (S.ATTENDED, S.CLOSED): frozenset({SCHOOL, HOSPITAL}),
    (S.NO_SHOW, S.CLOSED): frozenset({SCHOOL, HOSPITAL}),
    **{(state, S.CANCELLED): frozenset({SCHOOL})
       for state in (S.DRAFT, S.SENT, S.ACKNOWLEDGED, S.ACCEPTED, S.SCHEDULED)},
}

# Not live: a new referral of the student may start (the database holds one live per student).
ENDED = frozenset({S.DECLINED, S.CLOSED, S.CANCELLED})
# What a liaison may see: everything once sent, never a draft.
VISIBLE_TO_HOSPITAL = frozenset(set(S.values) - {S.DRAFT})


def allowed(state: str, to: str, side: str) -> bool:
    """May ``side`` move a referral from ``state`` to ``to``?"""
    return side in MOVES.get((state, to), frozenset())


def moves_from(state: str, side: str) -> list[str]:
    """The states ``side`` may move a referral in ``state`` to (for the pages' buttons)."""
    return [to for (frm, to), sides in MOVES.items() if frm == state and side in sides]
