"""RPM header signatures: reading them, and verifying them against a trusted keyring.

An RPM's signature header (right after the 96-byte lead) holds digests and signatures of what
follows. A signed package (``rpmsign --addsign``, rpm >= 4.x) carries an OpenPGP v4 signature
packet over the *main header* bytes, from its magic to the end of its data store: RPMSIGTAG_RSA
(268) for RSA keys, RPMSIGTAG_DSA (267) for DSA and, in newer rpm, EdDSA/ECDSA keys. The main
header in turn records the SHA-256 of the compressed payload (RPMTAG_PAYLOADDIGEST, 5092, with
RPMTAG_PAYLOADDIGESTALGO 5093 = 8), so a verified header signature covers the payload too.

The signature header itself is not signed: its MD5 and SHA digests only catch accidents. The
verification therefore trusts nothing from it but the signature packet, and reads the payload
digest from the verified main header bytes (parsed here, not through rpmfile, which merges both
headers into one dictionary where either may shadow the other).

OpenPGP is done by Sequoia-PGP (PyPI ``pysequoia``) under its standard policy (it refuses,
for instance, SHA-1 and MD5 signatures and keys not valid for signing at the signature's time).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from enum import Enum
from typing import BinaryIO

import pysequoia

from pyobshell.upgrade.packages.keyring import Keyring, TrustedKey, first_line

LEAD_SIZE = 96
HEADER_MAGIC = b"\x8e\xad\xe8\x01"
SIGTAG_DSA, SIGTAG_RSA = 267, 268
SIGTAG_SHA1, SIGTAG_SHA256 = 269, 273
PAYLOADDIGEST, PAYLOADDIGESTALGO = 5092, 5093
DIGEST_ALGO_SHA256 = 8
MAX_HEADER_TAGS = 0xFFFF
MAX_SIGNATURE_HEADER_DATA = 64 << 20
_INT32, _STRING, _BIN, _STRING_ARRAY, _I18NSTRING = 4, 6, 7, 8, 9
_STRONG_HASHES = {"SHA256", "SHA384", "SHA512", "SHA3_256", "SHA3_512"}


class SignatureState(str, Enum):
    VERIFIED = "verified"  # made by a key of the trusted keyring, header and payload match
    NOT_VERIFIED = "not verified"  # signed, but no keyring was configured to check it
    UNSIGNED = "unsigned"
    NOT_CHECKED = "not checked"  # stored before pyobshell read signatures (or by obshell)


@dataclass(frozen=True)
class PackageSignature:
    """Who signed a package and what the agent could say about it."""

    state: SignatureState
    key_id: str = ""  # the signing (sub)key's id, 16 upper-case hex digits
    fingerprint: str = ""  # the trusted certificate's when verified, else the signature's issuer
    user_id: str = ""  # the trusted certificate's first user id (verified), or the signer's own claim

    @property
    def summary(self) -> str:
        """``unsigned``, or e.g. ``key 0123456789ABCDEF "Build <b@example.com>" (verified)``."""
        if self.state in (SignatureState.UNSIGNED, SignatureState.NOT_CHECKED):
            return self.state.value
        who = f' "{self.user_id}"' if self.user_id else ""
        return f"key {self.key_id}{who} ({self.state.value})"


UNSIGNED = PackageSignature(SignatureState.UNSIGNED)


class SignatureRefused(Exception):
    """Why a package's signature refuses it; ``kind`` is missing, unknown_key, invalid or corrupted."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


# -- header structures -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    type: int
    count: int
    offset: int  # into the header's data store


class HeaderTags:
    """The index entries of one header structure, read with bounds checks."""

    def __init__(self, entries: dict[int, _Entry], store: bytes, what: str):
        self.entries, self.store, self.what = entries, store, what

    @classmethod
    def parse(cls, blob: bytes, what: str, max_data: int = 1 << 28) -> tuple["HeaderTags", int]:
        """Tags of the header at the start of ``blob`` and its length in bytes."""
        if len(blob) < 16 or blob[:4] != HEADER_MAGIC:
            raise SignatureRefused("corrupted", f"the {what} has no header magic")
        count, size = struct.unpack(">II", blob[8:16])
        if count > MAX_HEADER_TAGS or size > max_data:
            raise SignatureRefused("corrupted", f"the {what} declares {count} tags and {size} bytes, too many")
        end = 16 + 16 * count + size
        if len(blob) < end:
            raise SignatureRefused("corrupted", f"the {what} is truncated")
        store = blob[16 + 16 * count: end]
        entries = {}
        for i in range(count):
            tag, kind, offset, n = struct.unpack(">IIiI", blob[16 + 16 * i: 32 + 16 * i])
            if not 0 <= offset <= len(store):
                raise SignatureRefused("corrupted", f"the {what}'s tag {tag} points outside its data")
            entries.setdefault(tag, _Entry(kind, n, offset))
        return cls(entries, store, what), end

    def binary(self, tag: int) -> bytes | None:
        entry = self.entries.get(tag)
        if entry is None:
            return None
        if entry.type != _BIN or entry.offset + entry.count > len(self.store):
            raise SignatureRefused("corrupted", f"the {self.what}'s tag {tag} is not binary data")
        return self.store[entry.offset: entry.offset + entry.count]

    def strings(self, tag: int) -> list[str] | None:
        entry = self.entries.get(tag)
        if entry is None:
            return None
        if entry.type not in (_STRING, _STRING_ARRAY, _I18NSTRING):
            raise SignatureRefused("corrupted", f"the {self.what}'s tag {tag} is not text")
        strings, start = [], entry.offset
        for _ in range(1 if entry.type == _STRING else min(entry.count, MAX_HEADER_TAGS)):
            end = self.store.find(b"\0", start)
            if end < 0:  # each string needs its terminating NUL
                raise SignatureRefused("corrupted", f"the {self.what}'s tag {tag} runs past its data")
            strings.append(self.store[start:end].decode("ascii", "replace"))
            start = end + 1
        return strings

    def int32s(self, tag: int) -> list[int] | None:
        entry = self.entries.get(tag)
        if entry is None:
            return None
        end = entry.offset + 4 * entry.count
        if entry.type != _INT32 or end > len(self.store):
            raise SignatureRefused("corrupted", f"the {self.what}'s tag {tag} is not a 32-bit number")
        return list(struct.unpack(f">{entry.count}I", self.store[entry.offset:end]))


def read_signature_header(file: BinaryIO) -> tuple[HeaderTags, int]:
    """The signature header's tags and where the main header must start (8-aligned after it)."""
    file.seek(LEAD_SIZE)
    head = file.read(16)
    if len(head) < 16 or head[:4] != HEADER_MAGIC:
        raise SignatureRefused("corrupted", "the signature header has no header magic")
    count, size = struct.unpack(">II", head[8:16])
    if count > MAX_HEADER_TAGS or size > MAX_SIGNATURE_HEADER_DATA:
        raise SignatureRefused("corrupted", f"the signature header declares {count} tags and {size} bytes")
    tags, length = HeaderTags.parse(head + file.read(16 * count + size), "signature header",
                                    MAX_SIGNATURE_HEADER_DATA)
    return tags, LEAD_SIZE + length + (-length % 8)


def check_header_digests(signature_tags: HeaderTags, header: bytes) -> None:
    """The signature header's SHA-1 and SHA-256 of the main header, when it records them."""
    for tag, digest in ((SIGTAG_SHA256, hashlib.sha256), (SIGTAG_SHA1, hashlib.sha1)):
        recorded = signature_tags.strings(tag)
        if recorded and recorded[0].strip().lower() != digest(header).hexdigest():
            name = "SHA-256" if tag == SIGTAG_SHA256 else "SHA-1"
            raise SignatureRefused("corrupted", f"the header does not match the signature header's {name}")


# -- the signature ---------------------------------------------------------------------------


def check_signature(signature_tags: HeaderTags, header: bytes, payload_sha256: str,
                    keyring: Keyring | None) -> PackageSignature:
    """Who signed the package. With a ``keyring``, the signature must be made by one of its
    keys, match the main header bytes, and that header's SHA-256 payload digest must match the
    payload; else :class:`SignatureRefused`. Without one, only who claims to have signed it."""
    packet = signature_tags.binary(SIGTAG_RSA)
    if packet is None:
        packet = signature_tags.binary(SIGTAG_DSA)
    if packet is None:
        if keyring is not None:
            raise SignatureRefused("missing", "the package is not signed (no RPMSIGTAG_RSA or RPMSIGTAG_DSA header "
                                              "signature), and the agent accepts signed packages only")
        return UNSIGNED
    sig = _parse_signature(packet)
    fingerprint = (sig.issuer_fingerprint or "").upper()
    key_id = (sig.issuer_key_id or "").upper() or fingerprint[-16:]
    if not key_id:
        raise SignatureRefused("invalid", "the header signature names no issuer key")
    if keyring is None:
        return PackageSignature(SignatureState.NOT_VERIFIED, key_id, fingerprint, sig.signers_user_id or "")
    trusted = keyring.find(fingerprint, key_id)
    if trusted is None:
        raise SignatureRefused("unknown_key", f"the package is signed by key {key_id}"
                                              f"{f' (fingerprint {fingerprint})' if fingerprint else ''}, "
                                              f"which is not in the trusted keyring")
    _verify(sig, header, trusted)
    _check_payload_digest(header, payload_sha256, trusted)
    return PackageSignature(SignatureState.VERIFIED, trusted.key_id, trusted.fingerprint, trusted.user_id)


def _parse_signature(packet: bytes) -> pysequoia.Sig:
    try:
        packets = list(pysequoia.packet.PacketPile.from_bytes(packet))
        if len(packets) != 1 or packets[0].tag != pysequoia.packet.Tag.Signature:
            raise ValueError(f"{len(packets)} OpenPGP packets instead of one signature packet")
        sig = pysequoia.Sig.from_bytes(packet)
    except BaseException as exc:  # Sequoia raises RuntimeError; a Rust panic is a BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise SignatureRefused("invalid", f"the header signature is not a readable OpenPGP signature packet "
                                          f"({first_line(exc)})") from None
    if sig.signature_type != pysequoia.packet.SignatureType.Binary:
        raise SignatureRefused("invalid", f"the header signature is a {sig.signature_type!r} signature, not a "
                                          f"signature of binary data")
    return sig


def _verify(sig: pysequoia.Sig, header: bytes, trusted: TrustedKey) -> None:
    name = f"key {trusted.key_id}"
    algorithm = repr(sig.hash_algorithm).rsplit(".", 1)[-1]
    if algorithm not in _STRONG_HASHES:
        raise SignatureRefused("invalid", f"the header signature by {name} uses the hash {algorithm}; "
                                          f"SHA-256 or stronger is required")
    try:
        result = pysequoia.verify(bytes=header, store=lambda _ids: [trusted.cert], signature=sig)
        valid = bool(result.valid_sigs)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        valid = False
    if not valid:
        raise SignatureRefused("invalid", f"the header signature by {name} does not match the header: the header "
                                          f"was changed after it was signed (tampered) or damaged, or the key was "
                                          f"not valid for signing then")


def _check_payload_digest(header: bytes, payload_sha256: str, trusted: TrustedKey) -> None:
    tags, _ = HeaderTags.parse(header, "main header")
    digests, algorithms = tags.strings(PAYLOADDIGEST), tags.int32s(PAYLOADDIGESTALGO)
    name = f"key {trusted.key_id}"
    if not digests or algorithms != [DIGEST_ALGO_SHA256]:
        raise SignatureRefused("invalid", f"the header signed by {name} records no SHA-256 payload digest "
                                          f"(RPMTAG_PAYLOADDIGEST), so the signature does not cover the payload")
    if digests[0].strip().lower() != payload_sha256:
        raise SignatureRefused("invalid", f"the payload does not match the SHA-256 payload digest of the header "
                                          f"signed by {name}: the payload was changed after signing (tampered)")
