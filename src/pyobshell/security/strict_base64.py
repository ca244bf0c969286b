"""Strict standard base64 (RFC 4648 §4, padded), as obshell puts on the wire.

Go's decoder used by obshell keeps whatever it decoded before an error; we instead refuse
anything that is not the one canonical encoding of some bytes. Non-canonical forms (stray
characters, missing padding, non-zero bits in the last character) would otherwise give an
attacker several spellings of the same ciphertext, which defeats a replay cache keyed on it.
"""

from __future__ import annotations

import base64
import binascii

from pyobshell.security.crypto_errors import DecryptionError


def encode(data: bytes) -> str:
    """Standard base64 with padding, as ASCII text."""
    return base64.b64encode(data).decode("ascii")


def decode(text: str | bytes) -> bytes:
    """Decode canonical standard base64 or raise :class:`DecryptionError`."""
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            raise DecryptionError("base64 text is not ASCII") from None
    else:
        raw = bytes(text)
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("malformed base64") from None
    # validate=True still accepts non-zero trailing bits ("QR==" for "QQ=="): re-encode to be sure.
    if base64.b64encode(data) != raw:
        raise DecryptionError("non-canonical base64")
    return data
