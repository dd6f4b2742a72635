"""The reciprocity ledger: who reaches out, who answers.

Initiating is organizing a meeting or writing the first message of a thread
(``[reciprocity]`` says which count). "You owe Lee one" when Lee initiated at
least ``min_difference`` more times than you and at least ``min_ratio`` times
as often; "Lee owes you" the other way round.

Not every thread asks for an answer. A peer who started at least
``informing_min_threads`` threads in the window, of which the owner answered at
most ``informing_max_answered`` (a share), is keeping the owner informed (status
mails, forwarded news): both sides know those threads expect no reply, so they
are no favours owed, and "you owe Jeff one: Jeff started 150" would be false.
Such a peer gets no reciprocity entry either way (their stream says nothing
about who owes whom); ``explain`` says why. Headers alone tell it: the owner's
own replies are what answered a thread (``rules.inference``).

The same holds the other way: threads the owner started to a peer (weekly
reports, FYI mail), at least ``informing_min_threads`` of them, the peer answering
at most ``informing_max_answered``, are the owner keeping the peer informed. They
expected no answer, so the peer owes the owner nothing for them: no "owes you"
entry ("Paul owes you one: you started 43" would be false). A "you owe" entry
stays (leaving those threads out would only widen the peer's lead). The peer's
replies are what answered the owner's threads, told exactly as the owner's are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from peerpulse.rules.ruleset import RuleSet


class Balance(StrEnum):
    """Which way a one-sided relationship tilts (the direction of a reciprocity entry).

    String-valued, so stored digests and their JSON keep ``"you_owe"``/``"owes_you"``.
    """

    YOU_OWE = "you_owe"  # they reached out more: your turn
    OWES_YOU = "owes_you"  # you reached out more


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one peer stands: the direction (None: balanced, too little, or informing)
    and the figures it was read from, for ``explain``."""

    direction: Balance | None
    informing: bool  # their threads are a stream that keeps you informed
    by_me: int  # initiatives in the window
    by_them: int
    their_threads: int  # threads they started in the window (part of ``by_them``)
    unanswered: int  # ... still unanswered
    streaming: bool = False  # your threads are a stream that keeps them informed
    my_threads: int = 0  # threads you started in the window (part of ``by_me``)
    mine_unanswered: int = 0  # ... that they left unanswered

    @property
    def answered(self) -> int:
        return max(self.their_threads - self.unanswered, 0)

    @property
    def mine_answered(self) -> int:
        return max(self.my_threads - self.mine_unanswered, 0)


def balance(initiated_by_me: int, initiated_by_them: int, rules: RuleSet) -> Balance | None:
    """Which way the initiations tilt, or None (balanced, or too little to say)."""
    model = rules.model.reciprocity
    if _tilted(initiated_by_them, initiated_by_me, model.min_difference, model.min_ratio):
        return Balance.YOU_OWE
    if _tilted(initiated_by_me, initiated_by_them, model.min_difference, model.min_ratio):
        return Balance.OWES_YOU
    return None


def may_be_informing(their_threads_at_most: int, unanswered: int, rules: RuleSet) -> bool:
    """A cheap bound before counting threads: could :func:`informing` be true with at
    most this many threads of theirs and this many still unanswered?"""
    model = rules.model.reciprocity
    least_open = model.informing_min_threads * (1 - model.informing_max_answered)
    return their_threads_at_most >= model.informing_min_threads and unanswered >= least_open


def informing(their_threads: int, unanswered: int, rules: RuleSet) -> bool:
    """Whether a peer's threads keep the owner informed rather than ask: many threads
    in the window, a small share of them answered (1 in 75 answered is a newsletter)."""
    model = rules.model.reciprocity
    if their_threads < model.informing_min_threads:
        return False
    answered = max(their_threads - unanswered, 0)
    return answered <= model.informing_max_answered * their_threads


def assess(by_me: int, by_them: int, their_threads: int, unanswered: int,
           rules: RuleSet, my_threads: int = 0, mine_unanswered: int = 0) -> Standing:
    """The standing of one peer from the window's figures (``their_threads``: threads
    they started, part of ``by_them``; ``unanswered``: those still open; ``my_threads``
    and ``mine_unanswered`` the same of the owner's threads, left open by them)."""
    streams = informing(their_threads, unanswered, rules)
    mine = informing(my_threads, mine_unanswered, rules)
    direction = None if streams else balance(by_me, by_them, rules)
    if mine and direction == Balance.OWES_YOU:
        direction = None  # your stream asked for nothing: no favour owed to you
    return Standing(direction, streams, by_me, by_them, their_threads, unanswered, mine,
                    my_threads, mine_unanswered)


def describe(standing: Standing, rules: RuleSet) -> str:
    """``explain``'s line: the verdict, the figures and the thresholds it compared."""
    model = rules.model.reciprocity
    s = standing
    share = s.answered / s.their_threads if s.their_threads else 0.0
    figures = (f"in {model.window_days} days they initiated {s.by_them} ({s.their_threads} "
               f"thread{'' if s.their_threads == 1 else 's'}, {s.answered} answered by you), "
               f"you {s.by_me}")
    stream = (f"informing_min_threads = {model.informing_min_threads}, "
              f"informing_max_answered = {model.informing_max_answered:g}")
    if s.informing:
        return (f"they keep you informed, no debt either way: {figures}; {share:.0%} "
                f"answered is a stream ({stream})")
    tilt = f"min_difference = {model.min_difference}, min_ratio = {model.min_ratio:g}"
    if s.direction == Balance.YOU_OWE:
        text = f"you owe them one: {figures} ({tilt})"
        if s.their_threads >= model.informing_min_threads:
            text += f"; {share:.0%} answered is not a stream ({stream})"
        return text
    mine_share = s.mine_answered / s.my_threads if s.my_threads else 0.0
    # the threads they left open, not those answered: a thread without a subject in a
    # mailbox without reply headers is never open, and was not seen answered either
    yours = (f" ({s.my_threads} thread{'' if s.my_threads == 1 else 's'}, "
             f"{s.mine_unanswered} unanswered by them)")
    if s.streaming:
        return (f"you keep them informed, they owe you nothing: {figures}{yours}; "
                f"{mine_share:.0%} of yours answered is a stream ({stream})")
    if s.direction == Balance.OWES_YOU:
        text = f"they owe you one: {figures}{yours} ({tilt})"
        if s.my_threads >= model.informing_min_threads:
            text += f"; {mine_share:.0%} of yours answered is not a stream ({stream})"
        return text
    return f"balanced or too little to say: {figures} ({tilt})"


def _tilted(more: int, less: int, min_difference: int, min_ratio: float) -> bool:
    if more - less < min_difference:
        return False
    return less == 0 or more / less >= min_ratio
