"""A shared directory resolved once (``share_directory``) and then per owner
(``owner_directory``) answers exactly what ``Identity`` + ``build_directory`` answer
over the same people, for every owner; where it cannot, it says so (None) and the
engine takes the full pass (issue 12)."""

from __future__ import annotations

import pytest
from peerpulse.connectors.records import Person
from peerpulse.rules.identity import Identity
from peerpulse.rules.loader import load_rules
from peerpulse.rules.peers import build_directory, owner_directory, share_directory
from peerpulse.rules.tally import Ledger

from tests.rules.builders import ME, MY_ALIAS, PEOPLE

EXTRA = (
    # an alias in the directory, and a second row for the same person under an alias
    Person("lee@corp.example", "Lee Lead", aliases=("l.lee@corp.example",),
           department="Legal", title="Legal Manager", manager="ceo@corp.example",
           manages_anyone=True),
    Person("l.lee@corp.example", "Lee (old row)", department="Legal", title="Counsel"),
    # a manager column written as an alias and in capitals
    Person("pat@corp.example", "Pat Para", department="Legal", title="Paralegal",
           manager="L.LEE@corp.example"),
    # manages no one, but listed in peers.include; another listed in peers.exclude
    Person("ana@corp.example", "Ana Lyst", department="Finance", title="Analyst",
           manager="fin@corp.example"),
    Person("x@corp.example", "Xan Excluded", department="Support", title="Support Manager",
           manager="ceo@corp.example", manages_anyone=True),
    # reports to the owner's alias: the owner's report only through the owner step
    Person("via@corp.example", "Via Alias", department="Engineering", title="Engineer",
           manager=MY_ALIAS),
)

RULES = {
    "default": "",
    "lists": """
[peers]
include = ["ana@corp.example", "nobody@corp.example", "boss@corp.example"]
exclude = ["x@corp.example"]
[identity]
alias_groups = [["hr@corp.example", "harper@corp.example"],
                ["ghost@corp.example", "g@corp.example"]]
""",
    "no_chain_rules": """
[peers]
exclude_my_management_chain = false
exclude_my_reports = false
internal_only = false
""",
    "narrow": """
[peers]
departments = ["Finance", "Sales", "Engineering", "Legal"]
exclude_titles = ["*Lead*"]
[identity]
internal_domains = ["corp.example"]
""",
}

ADDRESSES = ["unknown@corp.example", "<FIN@corp.example>", "mailto:finley@corp.example",
             "Harper@corp.example", "g@corp.example", MY_ALIAS, "l.lee@corp.example"]


def _plain(people, owner, aliases, rules):
    identity = Identity(owner, aliases, people, rules)
    return identity, build_directory(people, identity, rules)


def _same(people, owner, aliases, rules, shared) -> bool:
    """Compare the fast path with the plain one; False when the fast path declined."""
    found = owner_directory(shared, owner, aliases, rules)
    if found is None:
        return False
    identity, directory = found
    plain_identity, plain = _plain(people, owner, aliases, rules)
    assert identity.owner == plain_identity.owner
    assert identity.owner_addresses == plain_identity.owner_addresses
    assert identity.internal_domains == plain_identity.internal_domains
    for address in [*ADDRESSES, *(p.email for p in people), *(a for p in people for a in p.aliases),
                    *(p.manager for p in people if p.manager), *aliases]:
        assert identity.resolve(address) == plain_identity.resolve(address), address
        assert identity.is_internal(identity.resolve(address)) == plain_identity.is_internal(
            plain_identity.resolve(address))
    assert list(directory.people.items()) == list(plain.people.items())
    assert list(directory.peers.items()) == list(plain.peers.items())  # order: views, ledger
    assert directory.not_peers == plain.not_peers
    assert directory.reports == plain.reports
    assert directory.direct_reports == plain.direct_reports
    assert directory.management_chain == plain.management_chain
    assert directory.team_sizes == plain.team_sizes
    assert directory.chain_known == plain.chain_known
    ledger, plain_ledger = Ledger(directory), Ledger(plain)
    assert ledger.not_peer_rule == plain_ledger.not_peer_rule
    assert ledger.tracked == plain_ledger.tracked
    assert ledger.leader_contacts == plain_ledger.leader_contacts
    assert list(ledger.persons) == list(plain_ledger.persons)
    cold = directory.shared_cold  # the peers as the engine's aggregate sees them (rules.cold)
    assert cold is not None and cold.out <= set(cold.base) and not cold.extra & set(cold.base)
    assert (set(cold.base) - cold.out) | cold.extra == set(plain.peers)
    return True


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_owner_gets_the_directory_the_full_pass_gives(name):
    rules = load_rules([("r.toml", RULES[name])] if RULES[name] else [])
    people = [*PEOPLE, *EXTRA]
    shared = share_directory(people, rules)
    owners = [(p.email, ()) for p in people] + [
        (ME, (MY_ALIAS,)), ("outsider@elsewhere.example", ()),
        ("fin@corp.example", ("f@x.example",))]
    taken = [_same(people, owner, aliases, rules, shared) for owner, aliases in owners]
    assert sum(taken) >= len(owners) - 3  # the fast path is the rule, not the exception
    # the owner's alias names a manager (via@ reports to m.e@): only the full pass
    # maps it to the owner, so the fast path declines
    assert owner_directory(shared, ME, (MY_ALIAS,), rules) is None


def test_declines_when_an_owner_address_is_someone_else_in_the_directory():
    rules = load_rules([])
    people = [*PEOPLE, *EXTRA]
    shared = share_directory(people, rules)
    # fin's directory alias given as the owner's own: the owner step merges fin into me
    assert owner_directory(shared, ME, ("finley@corp.example",), rules) is None
    assert owner_directory(shared, "l.lee@corp.example", (), rules) is None
    # other rules than the ones it was shared under
    assert owner_directory(shared, ME, (), load_rules([("r.toml", RULES["narrow"])])) is None


def test_without_a_manager_column_titles_judge_against_the_owner_so_it_declines():
    rules = load_rules([])
    people = [Person(p.email, p.name, aliases=p.aliases, department=p.department,
                     title=p.title, manages_anyone=p.manages_anyone) for p in PEOPLE]
    shared = share_directory(people, rules)
    assert owner_directory(shared, ME, (), rules) is None
    # an owner the directory does not know has no level: nothing to decline for
    assert _same(people, "new@corp.example", (), rules, shared)
