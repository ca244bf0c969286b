"""Independent re-creations of what obshell's clients put on the wire, written straight
against ``cryptography`` (not through pyobshell's builder), to test the verifier byte-level."""

from __future__ import annotations

import base64
import json
import os

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def rsa_53(public_key: RSAPublicKey, data: bytes) -> str:
    blocks = [public_key.encrypt(data[i : i + 53], padding.PKCS1v15()) for i in range(0, len(data), 53)]
    return base64.b64encode(b"".join(blocks)).decode()


def aes_cbc_b64(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = sym_padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(enc.update(padder.update(data) + padder.finalize()) + enc.finalize())


def sdk_v2_request(public_key: RSAPublicKey, now: float, uri: str, password: str, body: dict | None):
    """obshell-sdk-python v2: lower-case keys, Ts = now + 5, Keys always, 53-byte chunks."""
    key, iv = os.urandom(16), os.urandom(16)
    header = {"auth": password, "ts": str(int(now) + 5), "uri": uri, "keys": base64.b64encode(key + iv).decode()}
    raw_body = aes_cbc_b64(key, iv, json.dumps(body).encode()) if body is not None else b""
    return rsa_53(public_key, json.dumps(header).encode()), raw_body


def web_ui_request(public_key: RSAPublicKey, now: float, uri: str, password: str, body: dict | None):
    """obshell web UI: JSON.stringify order Auth, Ts (now + 1800), Uri, Keys (only with data)."""
    key, iv = os.urandom(16), os.urandom(16)
    header: dict = {"Auth": password, "Ts": str(int(now) + 1800), "Uri": uri}
    raw_body = b""
    if body is not None:
        header["Keys"] = base64.b64encode(key + iv).decode()
        raw_body = aes_cbc_b64(key, iv, json.dumps(body, separators=(",", ":")).encode())
    return rsa_53(public_key, json.dumps(header, separators=(",", ":")).encode()), raw_body
