from pyobshell.security.file_digest import build_file_sha256_header, file_sha256_matches, sha256_hex
from pyobshell.security.keypair import AgentKeyPair


def test_file_digest_header_round_trip(key_pair: AgentKeyPair):
    data = b"rpm bytes"
    header = build_file_sha256_header(key_pair.public_key, sha256_hex(data))
    assert file_sha256_matches(key_pair, header, sha256_hex(data))
    assert file_sha256_matches(key_pair, header, sha256_hex(data).upper())
    assert not file_sha256_matches(key_pair, header, sha256_hex(b"other"))
    assert not file_sha256_matches(key_pair, "garbage", sha256_hex(data))
