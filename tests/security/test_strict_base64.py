import pytest

from pyobshell.security import strict_base64
from pyobshell.security.crypto_errors import DecryptionError


def test_round_trip_uses_padded_standard_alphabet():
    data = bytes(range(256))
    text = strict_base64.encode(data)
    assert "+" in text and "/" in text
    assert strict_base64.decode(text) == data
    assert strict_base64.encode(b"\xfb\xff") == "+/8="


@pytest.mark.parametrize(
    "text",
    [
        "QQ",  # missing padding
        "QR==",  # non-zero trailing bits: non-canonical spelling of b"A"
        "QQ==\n",  # whitespace
        "QQ=?",
        "-_8=",  # URL-safe alphabet
        "QQ==QQ==",  # padding in the middle
        "é",
    ],
)
def test_rejects_anything_not_canonical(text: str):
    with pytest.raises(DecryptionError):
        strict_base64.decode(text)


def test_bytes_input_accepted():
    assert strict_base64.decode(b"QQ==") == b"A"
