from pathlib import Path
from textwrap import dedent

import pytest

from pyobshell.upgrade.route_file import (
    BinaryRequirement,
    RouteFileError,
    load_route_file,
    parse_route_file,
)
from pyobshell.versions import Version

DATA = Path(__file__).resolve().parent.parent / "data"
NEWER = DATA / "oceanbase_upgrade_dep.at-4c4a07a8.yml"
OLDER = DATA / "oceanbase_upgrade_dep.at-001272da.yml"


def test_loads_the_real_newer_file():
    route_file = load_route_file(NEWER)
    assert len(route_file) == 15
    beta = route_file.get("4.1.0.0-100000192023032010")
    assert beta is not None and beta.deprecated
    assert beta.version == Version.parse("4.1.0.0-100000192023032010")
    assert beta.can_be_upgraded_to == ("4.1.0.0",)
    barrier = route_file.get("4.2.1.1")
    assert barrier.require_from_binary == BinaryRequirement(True, ("4.1.0.0", "4.1.0.1", "4.1.0.2", "4.2.0.0"))
    assert route_file.get("4.2.1.0").require_from_binary == BinaryRequirement(False, None)
    # The last entry has no upgrade targets at all.
    assert route_file.get("4.3.3.0").can_be_upgraded_to == ()
    # 4.2.1.2 is only an edge target, not an entry.
    assert route_file.get("4.2.1.2") is None
    assert "4.2.1.2" in route_file.all_versions()


def test_loads_the_real_older_file():
    route_file = load_route_file(OLDER)
    assert route_file.get("4.2.1.2").can_be_upgraded_to == ("4.3.0.0",)
    assert route_file.get("4.2.1.2").require_from_binary.when_come_from == ("4.1.0.0", "4.1.0.1", "4.1.0.2", "4.2.0.0")
    assert route_file.all_versions()[-1] == "4.3.0.0"


def test_requirement_judges_version_and_version_build_origins():
    requirement = BinaryRequirement(True, ("4.0.0.0", "4.1.0.0-100000192023032010"))
    assert requirement.applies_when_coming_from(Version.parse("4.0.0.0-123"))
    assert requirement.applies_when_coming_from(Version.parse("4.1.0.0-100000192023032010"))
    assert not requirement.applies_when_coming_from(Version.parse("4.1.0.0-100000202023040520"))
    assert BinaryRequirement(True).applies_when_coming_from(Version.parse("1.0.0.0"))
    assert not BinaryRequirement(False, ("4.0.0.0",)).applies_when_coming_from(Version.parse("4.0.0.0"))


def test_bool_requirement_and_missing_keys_default():
    route_file = parse_route_file(dedent("""
        - version: 4.2.0.0
          require_from_binary: True
        - version: 4.2.1.0
          can_be_upgraded_to: []
          require_from_binary: {value: True, when_come_from: []}
    """))
    first, second = route_file.entries
    assert first.require_from_binary == BinaryRequirement(True, None)
    assert first.can_be_upgraded_to == () and first.deprecated is False
    assert second.require_from_binary == BinaryRequirement(True, None)


def _refused(text: str) -> RouteFileError:
    with pytest.raises(RouteFileError) as caught:
        parse_route_file(dedent(text))
    return caught.value


def test_duplicate_versions_are_refused():
    error = _refused("""
        - version: 4.2.0.0
        - version: 4.2.1.0
        - version: 4.2.0.0
    """)
    assert "4.2.0.0 is listed more than once" in error.message
    assert error.code == "OB.Upgrade.DepYaml.Invalid" and error.status == 400


def test_same_version_with_and_without_build_is_not_a_duplicate():
    assert len(parse_route_file("- version: 4.2.0.0\n- version: 4.2.0.0-1\n")) == 2


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_file_is_refused_with_obshells_code(text):
    error = _refused(text)
    assert error.code == "OB.Upgrade.DepYamlMissing"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 4.2.0.0\n", "must be a list of versions, got dict"),
        ("- [4.2.0.0]\n", "entry 1 must be a mapping"),
        ("- can_be_upgraded_to: [4.2.0.0]\n", "entry 1 'version' must be a version string"),
        ("- version: 4.2\n", "must be a version string like '4.2.1.0', got 4.2"),
        ("- version: 4.2.0\n", "malformed version '4.2.0'"),
        ("- version: 4.2.0.0\n  next: [4.2.1.0]\n", "unknown key(s) next"),
        ("- version: 4.2.0.0\n  can_be_upgraded_to: 4.2.1.0\n", "'can_be_upgraded_to' must be a list"),
        ("- version: 4.2.0.0\n  can_be_upgraded_to: [4.2.1]\n", "malformed version '4.2.1'"),
        ("- version: 4.2.0.0\n  deprecated: 1\n", "'deprecated' must be True or False"),
        ("- version: 4.2.0.0\n  require_from_binary: [4.1.0.0]\n", "must be a bool or {value, when_come_from}"),
        ("- version: 4.2.0.0\n  require_from_binary: {when_come_from: [4.1.0.0]}\n", "needs a 'value'"),
        ("- version: 4.2.0.0\n  require_from_binary: {value: 'yes'}\n", "'value' must be True or False"),
        ("- version: 4.2.0.0\n  require_from_binary: {value: True, when_upgraded_to: [4.3.0.0]}\n", "unknown key(s) when_upgraded_to"),
        ("- version: 4.2.0.0\n  require_from_binary: {value: True, when_come_from: 4.1.0.0}\n", "'when_come_from' must be a list"),
        ("- version: [4.2.0.0\n", "not valid YAML"),
    ],
)
def test_malformed_files_are_refused_with_a_clear_message(text, expected):
    error = _refused(text)
    assert expected in error.message
    assert isinstance(error, ValueError)


def test_error_names_the_offending_entry():
    error = _refused("""
        - version: 4.2.0.0
        - version: 4.2.1.0
          deprecated: maybe
    """)
    assert "entry 2 (version 4.2.1.0) 'deprecated'" in error.message


def test_unreadable_path_is_a_route_file_error(tmp_path):
    with pytest.raises(RouteFileError, match="cannot read"):
        load_route_file(tmp_path / "missing.yml")
    (tmp_path / "binary.yml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RouteFileError, match="cannot read"):
        load_route_file(tmp_path / "binary.yml")
