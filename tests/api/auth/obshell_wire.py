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

SDK_CHUNK = 53  # both obshell SDKs, the 512-bit limit


def rsa_sectional(public_key: RSAPublicKey, data: bytes, chunk: int = SDK_CHUNK) -> str:
    blocks = [public_key.encrypt(data[i : i + chunk], padding.PKCS1v15()) for i in range(0, len(data), chunk)]
    return base64.b64encode(b"".join(blocks)).decode("ascii")


def aes_body(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    padder = sym_padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize())


def web_ui_chunk(public_key: RSAPublicKey) -> int:
    """jsencrypt-ext chunks by the key: k - 11 bytes (117 for a 1024-bit key)."""
    return public_key.key_size // 8 - 11


def web_ui(public_key: RSAPublicKey, now: float, uri: str, password: str, body: dict | None = None, *,
           session_id: str | None = None, login: bool = False) -> tuple[dict, bytes]:
    """request.js: {Auth, Ts: now+1800 as a string, Uri (with the query), Keys only with data or
    on login, session_id from localStorage}, JSON.stringify, RSA in k-11 byte chunks."""
    headers, raw, _ = web_ui_keys(public_key, now, uri, password, body, session_id=session_id, login=login)
    return headers, raw


def web_ui_keys(public_key: RSAPublicKey, now: float, uri: str, password: str, body: dict | None = None, *,
                session_id: str | None = None, login: bool = False) -> tuple[dict, bytes, tuple[bytes, bytes]]:
    """As :func:`web_ui`, also giving the (key, iv) the page keeps to decrypt a login reply."""
    key, iv = os.urandom(16), os.urandom(16)
    header: dict = {"Auth": password, "Ts": str(int(now) + 1800), "Uri": uri}
    raw = b""
    if body is not None or login:
        header["Keys"] = base64.b64encode(key + iv).decode("ascii")
    if body is not None:
        raw = aes_body(key, iv, json.dumps(body, separators=(",", ":")).encode())
    if session_id is not None:
        header["session_id"] = session_id
    value = rsa_sectional(public_key, json.dumps(header, separators=(",", ":")).encode(), web_ui_chunk(public_key))
    return {"X-OCS-Header": value, "Content-Type": "application/json"}, raw, (key, iv)


def aes_decrypt_text(key: bytes, iv: bytes, value_b64: str) -> str:
    """CryptoJS.AES.decrypt(value, key, {iv}) of a reply value, as the web UI reads its session id."""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(base64.b64decode(value_b64)) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")


def sdk_v2(
    public_key: RSAPublicKey, now: float, uri: str, password: str, body: dict | None = None, *, agent: bool = False
) -> tuple[dict, bytes]:
    """obshell-sdk-python v2: {auth, ts: now+5 as a string, uri, keys} always with keys."""
    key, iv = os.urandom(16), os.urandom(16)
    header = {"auth": password, "ts": str(int(now) + 5), "uri": uri, "keys": base64.b64encode(key + iv).decode("ascii")}
    raw = aes_body(key, iv, json.dumps(body).encode()) if body is not None else b""
    name = "X-OCS-Agent-Header" if agent else "X-OCS-Header"
    return {name: rsa_sectional(public_key, json.dumps(header).encode())}, raw


def sdk_v2_raw(public_key: RSAPublicKey, now: float, uri: str, password: str, raw_body: bytes) -> tuple[dict, bytes]:
    """SDK v2 with a bytes body (``upload_pkg``: the prepared multipart body, encrypted as is)."""
    key, iv = os.urandom(16), os.urandom(16)
    header = {"auth": password, "ts": str(int(now) + 600), "uri": uri, "keys": base64.b64encode(key + iv).decode("ascii")}
    return {"X-OCS-Header": rsa_sectional(public_key, json.dumps(header).encode())}, aes_body(key, iv, raw_body)


def custom(public_key: RSAPublicKey, header: dict, chunk: int = SDK_CHUNK) -> dict:
    """An X-OCS-Header holding exactly ``header`` (for malformed or hostile variants)."""
    return {"X-OCS-Header": rsa_sectional(public_key, json.dumps(header).encode(), chunk)}
