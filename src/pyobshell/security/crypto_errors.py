"""Low-level decryption failure.

It never reaches a client as such: the request verifier turns every one of them into the
same uniform 401, so that no caller can tell a padding failure from any other failure.
"""

from __future__ import annotations


class DecryptionError(ValueError):
    """Ciphertext, its encoding or its padding is invalid (the detail is for logs only)."""
