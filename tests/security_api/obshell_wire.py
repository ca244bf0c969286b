"""What obshell's web UI and Python SDK v2 put on the wire, rebuilt straight on ``cryptography``
(independent of pyobshell's own builder) so the tests check the agent byte for byte."""

from __future__ import annotations

import base64
import json
import os

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SDK_CHUNK = 53  # both obshell SDKs and the web UI's library, the 512-bit limit


def rsa_sectional(public_key: RSAPublicKey, data: bytes, chunk: int = SDK_CHUNK) -> str:
    blocks = [public_key.encrypt(data[i : i + chunk], padding.PKCS1v15()) for i in range(0, len(data), chunk)]
    return base64.b64encode(b"".join(blocks)).decode("ascii")


def aes_body(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    padder = sym_padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize())


def web_ui(public_key: RSAPublicKey, now: float, uri: str, password: str, body: dict | None = None) -> tuple[dict, bytes]:
    """request.js: {Auth, Ts: now+1800 as a string, Uri, Keys only with data}, JSON.stringify."""
    key, iv = os.urandom(16), os.urandom(16)
    header: dict = {"Auth": password, "Ts": str(int(now) + 1800), "Uri": uri}
    raw = b""
    if body is not None:
        header["Keys"] = base64.b64encode(key + iv).decode("ascii")
        raw = aes_body(key, iv, json.dumps(body, separators=(",", ":")).encode())
    value = rsa_sectional(public_key, json.dumps(header, separators=(",", ":")).encode())
    return {"X-OCS-Header": value, "Content-Type": "application/json"}, raw


def sdk_v2(
    public_key: RSAPublicKey, now: float, uri: str, password: str, body: dict | None = None, *, agent: bool = False
) -> tuple[dict, bytes]:
    """obshell-sdk-python v2: {auth, ts: now+5 as a string, uri, keys} always with keys."""
    key, iv = os.urandom(16), os.urandom(16)
    header = {"auth": password, "ts": str(int(now) + 5), "uri": uri, "keys": base64.b64encode(key + iv).decode("ascii")}
    raw = aes_body(key, iv, json.dumps(body).encode()) if body is not None else b""
    name = "X-OCS-Agent-Header" if agent else "X-OCS-Header"
    return {name: rsa_sectional(public_key, json.dumps(header).encode())}, raw


def custom(public_key: RSAPublicKey, header: dict, chunk: int = SDK_CHUNK) -> dict:
    """An X-OCS-Header holding exactly ``header`` (for malformed or hostile variants)."""
    return {"X-OCS-Header": rsa_sectional(public_key, json.dumps(header).encode(), chunk)}
