import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import padding

from pyobshell.security import rsa_chunks
from pyobshell.security.crypto_errors import DecryptionError
from pyobshell.security.keypair import AgentKeyPair

K = 128  # bytes in a 1024-bit modulus


@pytest.mark.parametrize("chunk_size, length", [(None, 300), (53, 300), (117, 117), (1, 5), (53, 0)])
def test_round_trip_and_block_layout(key_pair: AgentKeyPair, chunk_size, length):
    plaintext = bytes(i % 251 for i in range(length))
    raw = rsa_chunks.encrypt(key_pair.public_key, plaintext, chunk_size)
    size = chunk_size or K - 11
    assert len(raw) == K * max(1, -(-length // size))
    # Each block is an independent PKCS#1 v1.5 ciphertext of one chunk, in order.
    blocks = [key_pair.private_key.decrypt(raw[i : i + K], padding.PKCS1v15()) for i in range(0, len(raw), K)]
    assert blocks == [plaintext[i : i + size] for i in range(0, length, size)] or blocks == [b""]
    assert rsa_chunks.decrypt(key_pair.private_key, raw) == plaintext


def test_decrypt_accepts_any_client_chunk_size(key_pair: AgentKeyPair):
    # A client may choose any chunking: build one mixing 10-, 53- and 117-byte chunks.
    pieces = [b"a" * 10, b"b" * 53, b"c" * 117]
    raw = b"".join(key_pair.public_key.encrypt(p, padding.PKCS1v15()) for p in pieces)
    text = base64.b64encode(raw).decode()
    assert rsa_chunks.decrypt_b64(key_pair.private_key, text) == b"".join(pieces)


def test_chunk_size_above_limit_refused(key_pair: AgentKeyPair):
    with pytest.raises(ValueError):
        rsa_chunks.encrypt(key_pair.public_key, b"x", 118)


def test_partial_block_and_empty_refused(key_pair: AgentKeyPair):
    raw = rsa_chunks.encrypt(key_pair.public_key, b"hello")
    with pytest.raises(DecryptionError):
        rsa_chunks.decrypt(key_pair.private_key, raw[:-1])
    with pytest.raises(DecryptionError):
        rsa_chunks.decrypt(key_pair.private_key, b"")


def test_too_many_blocks_refused(key_pair: AgentKeyPair):
    raw = rsa_chunks.encrypt(key_pair.public_key, b"x" * 117 * 3)
    with pytest.raises(DecryptionError):
        rsa_chunks.decrypt(key_pair.private_key, raw, max_blocks=2)


def test_block_not_smaller_than_modulus_refused(key_pair: AgentKeyPair):
    with pytest.raises(DecryptionError):
        rsa_chunks.decrypt(key_pair.private_key, b"\xff" * K)


def test_other_key_sizes_work():
    big = AgentKeyPair.generate(2048)
    raw = rsa_chunks.encrypt(big.public_key, b"z" * 300, 53)
    assert len(raw) == 256 * 6
    assert rsa_chunks.decrypt(big.private_key, raw) == b"z" * 300
