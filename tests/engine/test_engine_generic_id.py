"""Generic ids: obshell's layouts, round trips, and validated decoding."""

from __future__ import annotations

import pytest

from pyobshell.engine import AgentInfo, decode_generic_id, encode_cluster_id, encode_local_id
from pyobshell.engine.generic_id import encode_id, is_obproxy_id
from pyobshell.errors import ObshellError


def test_cluster_ids_are_one_plus_the_row_id() -> None:
    assert encode_cluster_id(2) == "12"
    assert encode_cluster_id(345) == "1345"
    decoded = decode_generic_id("1345")
    assert decoded.id == 345 and decoded.is_cluster and decoded.agent is None


def test_local_ipv4_ids_match_obshell_examples() -> None:
    assert encode_local_id(5, AgentInfo("127.0.0.1", 2886)) == "22130706433028865"
    assert encode_local_id(123, AgentInfo("10.0.0.1", 2886)) == "2016777216102886123"
    decoded = decode_generic_id("2016777216102886123")
    assert (decoded.id, decoded.agent) == (123, AgentInfo("10.0.0.1", 2886))


@pytest.mark.parametrize("agent", [AgentInfo("::1", 2886), AgentInfo("fe80::1:2", 80),
                                   AgentInfo("2001:db8::7", 65535)])
def test_ipv6_ids_round_trip_even_with_leading_zero_bytes(agent: AgentInfo) -> None:
    gid = encode_local_id(77, agent)
    assert gid[0] == "3" and len(gid) == 1 + 39 + 5 + 2
    assert decode_generic_id(gid).agent == agent and decode_generic_id(gid).id == 77


def test_obproxy_ids_use_prefix_four_and_five() -> None:
    v4 = encode_id(9, is_local=False, agent=AgentInfo("127.0.0.1", 2983), obproxy=True)
    v6 = encode_local_id(9, AgentInfo("::2", 2983), obproxy=True)
    assert v4[0] == "4" and v6[0] == "5"
    assert is_obproxy_id(v4) and is_obproxy_id(v6) and not is_obproxy_id("12")
    assert decode_generic_id(v4).is_obproxy


@pytest.mark.parametrize("gid", [
    "", "1", "0123", "9123", "1abc", "1-5", "10",  # bad prefix, too short, not a number, id 0
    "2213070643302886",  # no row id after the address
    "22130706433999995",  # port 99999
    "29999999999028865",  # ipv4 number beyond 32 bits
    "2213070643302886x",
    "3" + "9" * 39 + "028865",  # ipv6 number beyond 128 bits
    "1" + "9" * 30,  # row id beyond 64 bits
    "1２３",  # non-ASCII digits
])
def test_invalid_ids_are_a_400_generic_id_error(gid: str) -> None:
    with pytest.raises(ObshellError) as caught:
        decode_generic_id(gid)
    assert caught.value.code == "Task.GenericID.Invalid"
    assert caught.value.status == 400
    assert gid in caught.value.message
