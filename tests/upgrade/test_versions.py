import pytest

from pyobshell.versions import BuildVersion, Release, Version, parse_version


def test_parse_plain_and_build_suffixed_versions():
    assert Version.parse("4.2.1.0") == Version((4, 2, 1, 0))
    beta = Version.parse("4.1.0.0-100000192023032010")
    assert beta.numbers == (4, 1, 0, 0)
    assert beta.build == "100000192023032010"
    assert str(beta) == "4.1.0.0-100000192023032010"
    assert beta.number_string == "4.1.0.0"


def test_numbers_compare_numerically_not_as_text():
    assert Version.parse("4.10.0.0") > Version.parse("4.9.9.9")
    assert Version.parse("4.2.1.10") > Version.parse("4.2.1.9")


def test_build_breaks_ties_and_missing_build_counts_as_zero():
    old = Version.parse("4.2.1.0-100000102023092807")
    new = Version.parse("4.2.1.0-101000062023110109")
    assert old < new
    assert Version.parse("4.2.1.0") < old
    assert Version.parse("4.2.1.1") > new  # the numbers come first
    assert sorted([new, Version.parse("4.2.1.0"), old]) == [Version.parse("4.2.1.0"), old, new]


def test_versions_are_hashable_values():
    assert len({Version.parse("4.2.1.0-5"), Version.parse("4.2.1.0-5")}) == 1


def test_parse_version_attaches_build_and_refuses_a_conflicting_one():
    assert parse_version("4.2.1.1", "101000062023110109") == Version.parse("4.2.1.1-101000062023110109")
    assert parse_version("4.2.1.1-7", "7").build == "7"
    with pytest.raises(ValueError, match="already carries build"):
        parse_version("4.2.1.1-7", "8")


@pytest.mark.parametrize(
    "text",
    ["", "4.2.1", "4.2.1.0.0", "4.2.x.0", "v4.2.1.0", "4.2.1.0-", "4.2.1.0-abc", "4.2.1.0_1", "-4.2.1.0", "４.2.1.0"],
)
def test_malformed_versions_are_a_clear_value_error(text):
    with pytest.raises(ValueError, match="malformed version"):
        Version.parse(text)


def test_non_string_version_is_a_value_error():
    with pytest.raises(ValueError, match="must be a string"):
        Version.parse(4.2)  # type: ignore[arg-type]


def test_version_constructor_validates_its_parts():
    with pytest.raises(ValueError, match="four non-negative numbers"):
        Version((4, 2, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="digits"):
        Version((4, 2, 1, 0), "12a")


def test_release_splits_build_and_distribution():
    release = Release.parse("101000062023110109.el7")
    assert (release.build, release.distribution) == ("101000062023110109", "el7")
    assert str(release) == "101000062023110109.el7"
    # Like obshell: the distribution is the last dot part.
    assert Release.parse("100000102023092807.al8.x").distribution == "x"


@pytest.mark.parametrize("text", ["101000062023110109", "", ".el7", "101.", "abc.el7", "1..el7"])
def test_malformed_releases_are_refused(text):
    with pytest.raises(ValueError, match="malformed release"):
        Release.parse(text)


def test_build_version_as_observer_prints_it():
    parsed = BuildVersion.parse(
        "4.2.1.0_101000062023110109-7b0f43693565654bb1d7343f728b60feba36ef89(Sep 28 2023 07:23:24)"
    )
    assert parsed.version == Version.parse("4.2.1.0-101000062023110109")
    assert parsed.version.build == "101000062023110109"
    assert parsed.commit == "7b0f43693565654bb1d7343f728b60feba36ef89"
    assert parsed.built_at == "Sep 28 2023 07:23:24"


def test_build_version_without_commit_and_date():
    parsed = BuildVersion.parse("4.3.5.1_101000042025031818")
    assert str(parsed.version) == "4.3.5.1-101000042025031818"
    assert parsed.commit is None and parsed.built_at is None


@pytest.mark.parametrize("text", ["4.2.1.0", "4.2.1.0-1010", "4.2.1_1010-abc(x)", "4.2.1.0_-abc", "garbage"])
def test_malformed_build_versions_are_refused(text):
    with pytest.raises(ValueError, match="malformed build_version"):
        BuildVersion.parse(text)
