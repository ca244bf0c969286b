import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from pyobshell.errors import ObshellError
from pyobshell.security.crypto_errors import DecryptionError
from pyobshell.security.keypair import (
    KEY_FILE_NAME,
    AgentKeyPair,
    load_public_key_b64,
    public_key_to_b64,
)


def test_generated_key_is_obshell_sized(key_pair: AgentKeyPair):
    assert key_pair.key_bits == 1024
    assert key_pair.public_key.public_numbers().e == 65537


def test_public_key_b64_is_pkcs1_der_like_api_v1_secret(key_pair: AgentKeyPair):
    text = key_pair.public_key_b64()
    assert len(text) == 188 and text.startswith("MIGJAoGBA")
    der = base64.b64decode(text)
    assert der == key_pair.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    assert load_public_key_b64(text).public_numbers() == key_pair.public_key.public_numbers()


def test_load_or_create_persists_one_private_file(tmp_path: Path):
    old_umask = os.umask(0)  # even a permissive umask must not loosen the key file
    try:
        created = AgentKeyPair.load_or_create(tmp_path)
    finally:
        os.umask(old_umask)
    path = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    again = AgentKeyPair.load_or_create(tmp_path)
    assert again.public_key_b64() == created.public_key_b64()
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE_NAME]


def test_loose_file_mode_is_tightened(tmp_path: Path):
    AgentKeyPair.load_or_create(tmp_path)
    path = tmp_path / KEY_FILE_NAME
    path.chmod(0o644)
    AgentKeyPair.load(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_corrupt_key_file_is_a_clear_error_not_a_silent_new_key(tmp_path: Path):
    (tmp_path / KEY_FILE_NAME).write_bytes(b"not a key")
    with pytest.raises(ObshellError) as info:
        AgentKeyPair.load_or_create(tmp_path)
    assert info.value.code == "Security.KeyPair.Invalid"
    assert (tmp_path / KEY_FILE_NAME).read_bytes() == b"not a key"


# A throw-away 512-bit key (obshell's size before 4.4.2); cryptography no longer generates them.
LEGACY_512_BIT_KEY = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIIBOwIBAAJBAKRjUMudXw4L1/jbOHTw/hkOMlBV3nya19xp+2nHzT16wXZcXWEd
oJXDFfmOATpOmeTxfDClfdduzpXHX8nkvtkCAwEAAQJBAKN+t5Pbb/fLZcD3X35H
VaFb0kS+MqrhYkGxEsERXBqAzaig2Z9GMHw5BdFKgjQJ+aA3uvrYfYwlLBJlSMB7
/GUCIQDOpnc9SpdLUL4LRNICwvcYQHV/L59q2oFgXORQ64ZRRwIhAMulJldF7UE7
0sf338WV6rohoCr6MyQXAeBbl9RmhX7fAiA7jREzonkzBROfH7f9f73BSWISwuCH
5GwAHwTUpOrSJQIhAMJDmx2p8ThHjz1/MhJUfwRsS1R0NRD6eanC9kWCP1rVAiBS
CVwmlnODLnPwJRddQUKLS8GIQ1VIFo8ZoaRA1yOYUQ==
-----END RSA PRIVATE KEY-----
"""


def test_too_small_key_refused():
    with pytest.raises(ObshellError) as info:
        AgentKeyPair.from_pem(LEGACY_512_BIT_KEY)
    assert info.value.code == "Security.KeyPair.Invalid"


def test_decrypt_helpers(key_pair: AgentKeyPair):
    assert key_pair.decrypt_text(key_pair.encrypt("päss".encode())) == "päss"
    block = key_pair.public_key.encrypt(b"\xff\xfe", padding.PKCS1v15())
    with pytest.raises(DecryptionError):
        key_pair.decrypt_text(base64.b64encode(block).decode())
    with pytest.raises(DecryptionError):
        key_pair.decrypt("%%%")


def test_peer_public_key_parsing_rejects_garbage(key_pair: AgentKeyPair):
    spki = key_pair.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert load_public_key_b64(base64.b64encode(spki).decode()).key_size == 1024
    for bad in ("", "AAAA", "MIGJAoGBA"):
        with pytest.raises(ObshellError) as info:
            load_public_key_b64(bad)
        assert info.value.code == "Security.PublicKey.Invalid"
    assert public_key_to_b64(key_pair.public_key) == key_pair.public_key_b64()
