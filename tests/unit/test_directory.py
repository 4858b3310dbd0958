"""The stack's directory of users and grants (stack/directory.py), without a directory:
LDIF parsing, name checks, and the sentences a command ends with."""

from __future__ import annotations

import pytest

from core.errors import UserError
from stack import directory
from stack.config import from_env


def test_ldif_entries_keep_every_value_of_an_attribute():
    text = (
        "dn: cn=northwind,ou=customers,dc=edtrack,dc=local\n"
        "cn: northwind\n"
        "member: uid=alice,ou=people,dc=edtrack,dc=local\n"
        "member: uid=bob,ou=people,dc=edtrack,dc=local\n"
        "\n"
        "dn: cn=bluebird,ou=customers,dc=edtrack,dc=local\n"
        "cn: bluebird\n"
        "member: uid=carol,ou=people,dc=edtrack,dc=local\n"
    )
    entries = directory.parse_ldif(text)
    assert [e["cn"] for e in entries] == [["northwind"], ["bluebird"]]
    assert entries[0]["member"] == [
        "uid=alice,ou=people,dc=edtrack,dc=local",
        "uid=bob,ou=people,dc=edtrack,dc=local",
    ]
    assert directory._uid(entries[1]["member"][0]) == "carol"


@pytest.mark.parametrize(
    ("user", "customer", "fragment"),
    [
        pytest.param("Alice", "northwind", "User name 'Alice' is not valid", id="upper-case-user"),
        pytest.param("a,b", "northwind", "User name 'a,b' is not valid", id="dn-character"),
        pytest.param("alice", "North Wind", "Customer id 'North Wind'", id="space-in-customer"),
        pytest.param("alice", "1st", "Customer id '1st'", id="customer-starts-with-digit"),
    ],
)
def test_names_that_cannot_be_a_login_or_a_group_are_one_sentence(
    tmp_path, user, customer, fragment
):
    config = from_env({}, state_dir=tmp_path, auth="ldap")
    with pytest.raises(UserError, match=fragment):
        directory._check_name("User name", user, directory.USER_NAME)
        directory._group_dn(config, customer)


def test_users_of_a_stack_without_logins_is_one_sentence(tmp_path):
    config = from_env({}, state_dir=tmp_path, auth="none")
    with pytest.raises(UserError, match="runs without logins"):
        directory.groups(config)


def test_a_stopped_directory_says_to_start_the_stack(tmp_path):
    config = from_env({}, state_dir=tmp_path, auth="ldap", port_offset=29000)
    with pytest.raises(UserError, match="does not answer at ldap://127.0.0.1:39389"):
        directory.add_user(config, "alice", "northwind")
