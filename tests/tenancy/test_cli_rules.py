"""`vdvs vmgroup rule add|set|rm|ls`, `vdvs vm enroll --label` and `vdvs vm explain` with the real CLI
against a broker process (local backend): outputs, refusals, and VMs that join the vmgroup of the
rule their labels match on their next call, with no broker restart."""

from __future__ import annotations

from tests.tenancy.harness import VM_UUIDS, Tenv, parse_table, vm_refused

RULE_COLUMNS = ["Priority", "Vmgroup", "Match", "Created"]
SYNTAX = "name=GLOB, folder=PATH, attr:KEY=GLOB or label:KEY=GLOB, separated by commas"


def rules(env: Tenv, *args: str) -> list[list[str]]:
    """`vmgroup rule ls` rows, without the creation time (checked to be there)."""
    headers, rows = env.table("vmgroup", "rule", "ls", *args)
    assert headers == RULE_COLUMNS
    assert all(row[3].endswith("+00:00") for row in rows), rows
    return [row[:3] for row in rows]


def groups(env: Tenv, *names: str) -> None:
    for name in names:
        env.ok("vmgroup", "create", "--name", name, "--default-datastore", "_VM_DS")


async def test_rule_add_set_rm_ls_print_their_texts_in_the_order_rules_are_tried(tenv: Tenv) -> None:
    groups(tenv, "web", "db")
    added = tenv.ok(
        "vmgroup", "rule", "add", "--name", "web", "--match", " name=web-* , label:team=web", "--priority", "10"
    )
    assert added == "vmgroup rule add succeeded"
    reply = tenv.js("vmgroup", "rule", "add", "--name", "db", "--match", "label:team=db", "--priority", "5")
    assert {k: reply[k] for k in ("vmgroup", "match", "priority")} == {
        "vmgroup": "db",
        "match": "label:team=db",
        "priority": 5,
    }
    assert rules(tenv) == [["5", "db", "label:team=db"], ["10", "web", "name=web-*,label:team=web"]]  # canonical form
    assert rules(tenv, "--name", "web") == [["10", "web", "name=web-*,label:team=web"]]

    changed = tenv.ok("vmgroup", "rule", "set", "--name", "web", "--priority", "10", "--match", "label:tier=front")
    assert changed == "vmgroup rule set succeeded"
    assert rules(tenv, "--name", "web") == [["10", "web", "label:tier=front"]]
    assert tenv.ok("vmgroup", "rule", "rm", "--name", "db", "--priority", "5") == "vmgroup rule rm succeeded"
    assert tenv.js("vmgroup", "rule", "rm", "--name", "web", "--priority", "10") == []  # web's rules left
    assert tenv.ok("vmgroup", "rule", "ls") == "Priority  Vmgroup  Match  Created\n--------  -------  -----  -------"
    assert tenv.js("vmgroup", "rule", "ls") == []


async def test_rule_refusals_name_what_is_wrong_and_change_nothing(tenv: Tenv) -> None:
    groups(tenv, "web", "db")
    tenv.ok("vmgroup", "rule", "add", "--name", "web", "--match", "name=web-*", "--priority", "10")
    tenv.ok("vmgroup", "rule", "add", "--name", "db", "--match", "name=db-*", "--priority", "5")
    before = tenv.js("vmgroup", "rule", "ls")
    cases = [
        (["add", "--name", "nope", "--match", "name=x", "--priority", "1"], "Vmgroup nope does not exist"),
        (
            ["add", "--name", "web", "--match", "team=web", "--priority", "1"],
            f"Invalid membership rule 'team=web': unknown term 'team' (terms are {SYNTAX})",
        ),
        (
            ["add", "--name", "web", "--match", "web-*", "--priority", "1"],
            f"Invalid membership rule 'web-*': term 'web-*' has no '=' (terms are {SYNTAX})",
        ),
        (
            ["add", "--name", "web", "--match", "label:team=", "--priority", "1"],
            "Invalid membership rule 'label:team=': term label:team= has an empty value (use * for any value)",
        ),
        (
            ["add", "--name", "web", "--match", "name=web-2*", "--priority", "5"],  # db's priority
            "A membership rule of priority 5 already exists; priorities are unique across all vmgroups, "
            "choose another",
        ),
        (
            ["add", "--name", "web", "--match", "name=x", "--priority", "-1"],
            "Invalid rule priority -1: give a whole number from 0 to 1000000",
        ),
        # db's rule: not named to whoever manages web
        (["rm", "--name", "web", "--priority", "5"], "No membership rule of priority 5 in vmgroup web"),
        (["rm", "--name", "web", "--priority", "7"], "No membership rule of priority 7 in vmgroup web"),
        (["set", "--name", "db", "--priority", "10", "--match", "name=x"],
         "No membership rule of priority 10 in vmgroup db"),
        (["set", "--name", "web", "--priority", "10", "--match", "folder=vm/web"],
         "Invalid membership rule 'folder=vm/web': folder 'vm/web' must be an inventory path such as /DC/vm/web"),
        (["ls", "--name", "nope"], "Vmgroup nope does not exist"),
    ]  # fmt: skip
    for args, message in cases:
        assert tenv.refused("vmgroup", "rule", *args) == message, args
    assert tenv.js("vmgroup", "rule", "ls") == before
    json_err = tenv.run("vmgroup", "rule", "add", "--name", "web", "--match", "x", "--priority", "1", "--json")
    assert json_err.rc == 2 and '"code": 740' in json_err.out and '"name": "RULE_INVALID"' in json_err.out

    # a vmgroup that rules place VMs in is not removed without --force (which drops its rules too)
    assert tenv.refused("vmgroup", "rm", "--name", "web") == (
        "Cannot delete vmgroup web: membership rules of priority 10 place VMs in it. "
        "Remove them with 'vdvs vmgroup rule rm' or use --force"
    )
    assert tenv.ok("vmgroup", "rm", "--name", "web", "--force") == "vmgroup rm succeeded"
    assert rules(tenv) == [["5", "db", "name=db-*"]]


async def test_a_label_rule_moves_a_vm_on_its_next_call_and_explicit_membership_wins(tenv: Tenv) -> None:
    groups(tenv, "web", "db")
    vm1 = await tenv.vm("vm1", labels=("team=web", "tier=front"))
    vm2 = await tenv.vm("vm2")
    await vm1.client.create("before", {}, ["ext4"])  # no rule yet: _DEFAULT
    assert await vm2.client.list_names() == ["before@local1"]

    tenv.ok("vmgroup", "rule", "add", "--name", "web", "--match", "label:team=web", "--priority", "10")
    assert await vm1.client.list_names() == []  # web's namespace, at once
    await vm1.client.create("w", {}, ["ext4"])
    assert [(v["volume"], v["vmgroup"]) for v in tenv.js("volume", "ls")] == [("before", "_DEFAULT"), ("w", "web")]
    assert await vm2.client.list_names() == ["before@local1"]  # no label: still _DEFAULT

    tenv.ok("vmgroup", "rule", "rm", "--name", "web", "--priority", "10")
    assert await vm1.client.list_names() == ["before@local1"]

    # labels given again at enrollment replace the old ones (the VM's first certificate still works)
    tenv.ok("vmgroup", "rule", "add", "--name", "db", "--match", "label:team=db", "--priority", "20")
    tenv.ok("vm", "enroll", "vm1", "--uuid", VM_UUIDS["vm1"], "--out", str(tenv.root / "again"), "--label", "team=db")
    assert await vm1.client.list_names() == []  # db
    await vm1.client.create("d", {}, ["ext4"])
    tenv.ok("vmgroup", "rule", "add", "--name", "web", "--match", "label:team=*", "--priority", "1")
    assert await vm1.client.list_names() == ["w@local1"]  # priority 1 comes before 20

    tenv.ok("vmgroup", "vm", "add", "--name", "db", "--vm-list", "vm1")  # explicit membership wins over rules
    assert await vm1.client.list_names() == ["d@local1"]
    err = await vm_refused(vm1.client.get("w"))
    assert err.code == 620


async def test_vm_explain_says_which_vmgroup_and_why(tenv: Tenv) -> None:
    uuid = VM_UUIDS["vm1"]
    await tenv.vm("vm1", labels=("team=web",))
    assert tenv.ok("vm", "explain", "--vm", "vm1") == (
        f"VM: vm1 ({uuid})\n"
        "Vmgroup: _DEFAULT\n"
        "Why: not a member of any vmgroup and no rule matched: _DEFAULT\n"
        "Facts: name=vm1, label:team=web\n"
        "\n"
        "No membership rules."
    )
    groups(tenv, "web", "db", "other")
    tenv.ok("vmgroup", "rule", "add", "--name", "db", "--match", "label:team=db", "--priority", "5")
    tenv.ok("vmgroup", "rule", "add", "--name", "web", "--match", "label:team=web", "--priority", "10")
    tenv.ok("vmgroup", "rule", "add", "--name", "other", "--match", "name=vm*", "--priority", "20")
    tenv.ok("vmgroup", "rule", "add", "--name", "other", "--match", "folder=/DC0/vm/*", "--priority", "30")
    text = tenv.ok("vm", "explain", "--uuid", uuid.upper())
    head, table_text = text.split("\n\n")
    assert head.splitlines() == [
        f"VM: vm1 ({uuid})",
        "Vmgroup: web",
        "Why: rule of priority 10 matched: label:team=web",
        "Facts: name=vm1, label:team=web",
    ]
    assert parse_table(table_text) == (
        ["Priority", "Vmgroup", "Match", "Verdict"],
        [
            ["5", "db", "label:team=db", "no match: label:team=db: label:team is 'web'"],
            ["10", "web", "label:team=web", "matched: chosen"],
            ["20", "other", "name=vm*", "matched, but priority 10 comes first"],
            ["30", "other", "folder=/DC0/vm/*",
             "no match: folder=/DC0/vm/*: the VM has no inventory folder (not a vSphere VM)"],
        ],
    )  # fmt: skip
    reply = tenv.js("vm", "explain", "--vm", "vm1")
    assert {k: reply[k] for k in ("vm", "bios_uuid", "vmgroup", "source", "rule_priority", "facts", "facts_error")} == {
        "vm": "vm1",
        "bios_uuid": uuid,
        "vmgroup": "web",
        "source": "rule",
        "rule_priority": 10,
        "facts": ["name=vm1", "label:team=web"],
        "facts_error": "",
    }
    assert [(r["rule"]["priority"], r["matched"]) for r in reply["rules"]] == [
        (5, False),
        (10, True),
        (20, True),
        (30, False),
    ]

    tenv.ok("vmgroup", "vm", "add", "--name", "db", "--vm-list", "vm1")
    explicit = tenv.js("vm", "explain", "--vm", "vm1")
    assert (explicit["vmgroup"], explicit["source"]) == ("db", "explicit")
    assert explicit["reason"] == "explicit member of vmgroup db (vdvs vmgroup vm add); explicit membership wins"
    assert [r["verdict"] for r in explicit["rules"]][1] == "matched, but explicit membership wins"

    assert tenv.refused("vm", "explain", "--vm", "ghost") == "Cannot find vm ghost"
    assert tenv.refused("vm", "explain", "--uuid", "not-a-uuid") == "Invalid BIOS UUID 'not-a-uuid'"
    assert tenv.refused("vm", "explain", "--uuid", "42a1b2c3-0000-4000-8000-0000000000ff") == (
        "Cannot find vm 42a1b2c3-0000-4000-8000-0000000000ff"
    )
    assert tenv.refused("vm", "explain") == "Invalid Argument(give the VM's name (--vm) or its BIOS uuid (--uuid))"


async def test_bad_labels_are_refused_before_a_certificate_is_issued(tenv: Tenv) -> None:
    out = tenv.root / "bundles" / "vm3"
    base = ["vm", "enroll", "vm3", "--uuid", VM_UUIDS["vm3"], "--out", str(out)]
    # the vmgroup labels' syntax (tenancy/labels.py): one owner, one set of texts
    assert tenv.refused(*base, "--label", "bad key=x") == (
        "Label bad key=x is invalid: a key is [a-zA-Z0-9][a-zA-Z0-9_./-]*, at most 63 characters"
    )
    assert tenv.refused(*base, "--label", "team") == "Label team is invalid: write it as key=value"
    assert tenv.refused(*base, "--label", "team=a", "--label", "team=b") == (
        "Label team=b is invalid: key team is given twice"
    )
    assert tenv.refused(*base, "--label", "team=a,b") == (
        "Label team=a,b is invalid: a value is [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 63 characters"
    )
    assert tenv.refused(*base, "--label", "team=") == "Label team= is invalid: the value is empty"
    assert not out.exists()
    assert tenv.refused("vm", "explain", "--vm", "vm3") == "Cannot find vm vm3"
