import base64

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pyobshell.security import aes_body
from pyobshell.security.aes_body import AesKeys
from pyobshell.security.crypto_errors import DecryptionError

# NIST SP 800-38A, F.2.1 CBC-AES128.Encrypt, first block.
NIST_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
NIST_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
NIST_PLAIN = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
NIST_CIPHER = bytes.fromhex("7649abac8119b246cee98e9b12e9197d")


def test_matches_aes128_cbc_vector_with_pkcs7_block():
    keys = AesKeys(NIST_KEY, NIST_IV)
    wire = base64.b64decode(aes_body.encrypt(keys, NIST_PLAIN))
    # A whole block of input gets a whole block of padding (16 x 0x10).
    assert len(wire) == 32 and wire[:16] == NIST_CIPHER
    assert aes_body.decrypt(keys, wire_b64(wire)) == NIST_PLAIN


def wire_b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def test_keys_field_is_key_then_iv():
    keys = AesKeys.from_bytes(NIST_KEY + NIST_IV)
    assert (keys.key, keys.iv) == (NIST_KEY, NIST_IV)
    assert base64.b64decode(keys.to_b64()) == NIST_KEY + NIST_IV
    assert len(keys.to_b64()) == 44
    assert "2b7e" not in repr(keys) and NIST_KEY.hex() not in repr(keys)


@pytest.mark.parametrize("size", [0, 16, 24, 31, 33, 48])
def test_keys_must_be_exactly_32_bytes(size: int):
    with pytest.raises(DecryptionError):
        AesKeys.from_bytes(bytes(size))


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 1000])
def test_round_trip(length: int):
    keys = AesKeys.generate()
    data = bytes(range(256)) * 4
    assert aes_body.decrypt(keys, aes_body.encrypt(keys, data[:length])) == data[:length]


def _raw_cbc(keys: AesKeys, padded: bytes) -> bytes:
    enc = Cipher(algorithms.AES(keys.key), modes.CBC(keys.iv)).encryptor()
    return base64.b64encode(enc.update(padded) + enc.finalize())


@pytest.mark.parametrize(
    "last_block",
    [
        b"A" * 15 + b"\x00",  # padding byte zero
        b"A" * 15 + b"\x11",  # padding byte larger than a block (obshell would panic here)
        b"A" * 13 + b"\x01\x02\x03",  # inconsistent padding bytes
        b"A" * 12 + b"\x04\x04\x05\x04",
    ],
)
def test_invalid_padding_refused(last_block: bytes):
    keys = AesKeys.generate()
    with pytest.raises(DecryptionError):
        aes_body.decrypt(keys, _raw_cbc(keys, last_block))


@pytest.mark.parametrize("body", [b"", b"QUJD", b"!!!!", b"QUJDRA==\n", b"QR=="])
def test_malformed_ciphertext_refused(body: bytes):
    # empty, 3 bytes (not a block), not base64, trailing newline, non-canonical base64
    with pytest.raises(DecryptionError):
        aes_body.decrypt(AesKeys.generate(), body)


def test_reply_value_encryption_uses_request_keys():
    keys = AesKeys(NIST_KEY, NIST_IV)
    session_id = "ab" * 32
    assert aes_body.decrypt(keys, aes_body.encrypt_text(keys, session_id)) == session_id.encode()


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("piece", [1, 3, 4, 7, 64, 1000])
def test_stream_decryptor_gives_the_plaintext_whatever_the_pieces(piece):
    keys = AesKeys.generate()
    plaintext = bytes(range(256)) * 37 + b"tail"
    stream = aes_body.StreamDecryptor(keys)
    out = b"".join(stream.update(p) for p in _pieces(aes_body.encrypt(keys, plaintext), piece)) + stream.finish()
    assert out == plaintext


@pytest.mark.parametrize("body", [b"", b"QUJD", b"QUJDRA==QUJD", b"%%%%%%%%"])
def test_stream_decryptor_refuses_what_decrypt_refuses(body):
    keys = AesKeys.generate()
    stream = aes_body.StreamDecryptor(keys)
    with pytest.raises(DecryptionError):
        for piece in _pieces(body, 4):
            stream.update(piece)
        stream.finish()


def test_stream_decryptor_refuses_a_truncated_ciphertext():
    keys = AesKeys.generate()
    wire = aes_body.encrypt(keys, b"x" * 100)
    truncated = base64.b64encode(base64.b64decode(wire)[:-16])  # a whole block short: bad padding
    stream = aes_body.StreamDecryptor(keys)
    with pytest.raises(DecryptionError):
        stream.update(truncated)
        stream.finish()
