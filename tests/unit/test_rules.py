"""The membership rule language: what parses (and its canonical form), each refusal's one-line
text, and what each term matches."""

from __future__ import annotations

import pytest

from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.labels import parse_label, parse_labels
from vdvs.tenancy.rules import (
    MatchExpr,
    Term,
    TermKind,
    VmFacts,
    check_priority,
    first_failure,
    parse_expr,
)

WEB = VmFacts("web-01", "/DC0/vm/web", {"team": "web", "Cost Center": "4711"}, {"tier": "front"})


def refusal(expr: str) -> str:
    with pytest.raises(VdvsError) as info:
        parse_expr(expr)
    assert info.value.err is Err.RULE_INVALID and info.value.code == 740 and info.value.kind is Kind.INVALID
    assert "\n" not in info.value.message
    return info.value.message


def test_each_kind_of_term_parses_and_prints_back_canonically() -> None:
    parsed = parse_expr(" name=web-* ,folder=/DC0/vm/web, attr:Cost Center=47*,label:tier=front ")
    assert parsed == MatchExpr(
        (
            Term(TermKind.NAME, "", "web-*"),
            Term(TermKind.FOLDER, "", "/DC0/vm/web"),
            Term(TermKind.ATTR, "Cost Center", "47*"),
            Term(TermKind.LABEL, "tier", "front"),
        )
    )
    assert str(parsed) == "name=web-*,folder=/DC0/vm/web,attr:Cost Center=47*,label:tier=front"
    assert parse_expr(str(parsed)) == parsed
    assert parsed.needs_backend
    assert not parse_expr("label:tier=front,label:zone=a").needs_backend


def test_spaces_inside_a_value_are_kept_commas_separate_terms() -> None:
    assert parse_expr("folder=/DC0/vm/Web Servers").terms == (Term(TermKind.FOLDER, "", "/DC0/vm/Web Servers"),)
    assert len(parse_expr("name=a b,name=c").terms) == 2


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("", "it is empty: give one or more of name=GLOB, folder=PATH, attr:KEY=GLOB or label:KEY=GLOB, "
             "separated by commas"),
        (" , ", "it is empty: give one or more of name=GLOB, folder=PATH, attr:KEY=GLOB or label:KEY=GLOB, "
                "separated by commas"),
        ("name=a,,name=b", "an empty term (two commas in a row, or one at an end)"),
        ("name=a,", "an empty term (two commas in a row, or one at an end)"),
        ("web-*", "term 'web-*' has no '=' (terms are name=GLOB, folder=PATH, attr:KEY=GLOB or label:KEY=GLOB, "
                  "separated by commas)"),
        ("name web-*", "term 'name web-*' has no '=' (terms are name=GLOB, folder=PATH, attr:KEY=GLOB or "
                       "label:KEY=GLOB, separated by commas)"),
        ("tag:team=web", "unknown term 'tag:team' (terms are name=GLOB, folder=PATH, attr:KEY=GLOB or label:KEY=GLOB, "
                         "separated by commas)"),
        ("attr=web", "attr needs a key: attr:KEY=GLOB"),
        ("label:=web", "label needs a key: label:KEY=GLOB"),
        ("label:te,am=web", "term 'label:te' has no '=' (terms are name=GLOB, folder=PATH, attr:KEY=GLOB or "
                            "label:KEY=GLOB, separated by commas)"),
        # a label term's key is a label key (labels.py, the one syntax): what no label can have is refused
        ("label:-x=web", "label key '-x' is invalid: a key is [a-zA-Z0-9][a-zA-Z0-9_./-]*, at most 63 characters"),
        ("label:te am=web", "label key 'te am' is invalid: a key is [a-zA-Z0-9][a-zA-Z0-9_./-]*, at most 63 "
                            "characters"),
        (f"label:{'k' * 64}=web", f"label key '{'k' * 64}' is invalid: a key is [a-zA-Z0-9][a-zA-Z0-9_./-]*, "
                                  "at most 63 characters"),
        # an attribute's key is vCenter's custom attribute name (spaces allowed: attr:Cost Center=...)
        ("attr:-x=web", "attr key '-x' is invalid: a letter or digit, then letters, digits, spaces or _ . / - "
                        "(at most 128)"),
        ("name:x=web", "name takes no key: name=GLOB"),
        ("name=", "term name= has an empty value (use * for any value)"),
        ("label:team=", "term label:team= has an empty value (use * for any value)"),
        ("folder=DC0/vm", "folder 'DC0/vm' must be an inventory path such as /DC/vm/web"),
    ],
)  # fmt: skip
def test_a_bad_expression_is_refused_naming_what_is_wrong(expr: str, why: str) -> None:
    assert refusal(expr) == f"Invalid membership rule '{expr}': {why}"


def test_an_overlong_expression_is_refused_without_echoing_it_all() -> None:
    message = refusal("name=" + "x" * 2000)
    assert message == f"Invalid membership rule 'name={'x' * 35}...': longer than 1024 characters"


def test_priorities_are_whole_numbers_from_0_to_a_million() -> None:
    check_priority(0)
    check_priority(1_000_000)
    for bad in (-1, 1_000_001):
        with pytest.raises(VdvsError) as info:
            check_priority(bad)
        assert info.value.message == f"Invalid rule priority {bad}: give a whole number from 0 to 1000000"
        assert info.value.code == 741


@pytest.mark.parametrize(
    "expr",
    [
        "name=web-*",
        "name=web-0?",
        "name=web-[0-9]1",
        "folder=/DC0/vm/web",
        "folder=/DC0/vm/*",
        "attr:team=web",
        "attr:Cost Center=4711",
        "attr:team=*",
        "label:tier=front",
        "name=web-*,folder=/DC0/*,attr:team=w*,label:tier=*",
    ],
)
def test_a_rule_matches_when_every_term_holds(expr: str) -> None:
    assert first_failure(parse_expr(expr), WEB) is None


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("name=db-*", "name=db-*: name is 'web-01'"),
        ("name=WEB-*", "name=WEB-*: name is 'web-01'"),  # case-sensitive, as vSphere names are
        ("name=web", "name=web: name is 'web-01'"),  # the whole name, not a substring
        ("folder=/DC0/vm", "folder=/DC0/vm: folder is '/DC0/vm/web'"),
        ("attr:team=db", "attr:team=db: attr:team is 'web'"),
        ("attr:owner=*", "attr:owner=*: the VM has no custom attribute 'owner'"),
        ("label:zone=*", "label:zone=*: the VM has no label 'zone'"),
        ("name=web-*,label:tier=back", "label:tier=back: label:tier is 'front'"),  # the first failing term
    ],
)
def test_a_rule_that_does_not_match_names_its_first_failing_term(expr: str, reason: str) -> None:
    failure = first_failure(parse_expr(expr), WEB)
    assert failure is not None
    assert failure.reason() == reason


def test_a_vm_without_folders_fails_folder_terms_saying_why() -> None:
    local = VmFacts("vm1", labels={"tier": "front"})
    failure = first_failure(parse_expr("folder=/*"), local)
    assert failure is not None
    assert failure.reason() == "folder=/*: the VM has no inventory folder (not a vSphere VM)"
    assert first_failure(parse_expr("label:tier=front,name=vm?"), local) is None


def test_facts_are_shown_as_terms_name_them() -> None:
    assert WEB.shown() == [
        "name=web-01",
        "folder=/DC0/vm/web",
        "attr:Cost Center=4711",
        "attr:team=web",
        "label:tier=front",
    ]


def test_vm_labels_take_the_vmgroup_labels_syntax_with_its_refusals() -> None:
    """`vm enroll --label` goes through labels.py, as `vmgroup create --label` does: one syntax, code 715."""
    assert parse_label("team=web") == ("team", "web")
    assert parse_label("app.kubernetes.io/name=") == ("app.kubernetes.io/name", "")
    assert parse_labels(["a=1", "b=x.y"]) == {"a": "1", "b": "x.y"}
    key = "a key is [a-zA-Z0-9][a-zA-Z0-9_./-]*, at most 63 characters"
    value = "a value is [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 63 characters"
    cases = {
        "team": "write it as key=value",
        "=web": "the key is empty",
        "te am=web": key,
        "k" * 64 + "=web": key,
        "team=a,b": value,
        "team=a\tb": value,
        "b=x=y": value,
        "team=" + "v" * 64: value,
    }
    for text, why in cases.items():
        with pytest.raises(VdvsError) as info:
            parse_label(text)
        assert info.value.message == f"Label {text} is invalid: {why}"
        assert info.value.code == 715
    with pytest.raises(VdvsError) as info:
        parse_labels(["team=a", "team=b"])
    assert info.value.message == "Label team=b is invalid: key team is given twice"
    with pytest.raises(VdvsError) as info:
        parse_labels(["team="])
    assert info.value.message == "Label team= is invalid: the value is empty"
