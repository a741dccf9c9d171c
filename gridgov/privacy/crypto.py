"""Encryption at rest of ID numbers and phones, and the keyed digests that still allow exact lookups.

- `seal(value, field=...)` → a text token ``g1.<key id>.<algorithm>.<base64(nonce | ciphertext | tag)>``.
  Authenticated encryption (AES-256-GCM by default, SM4-GCM where a deployment needs 商用密码) with
  the field name as associated data, so a token copied into another column does not decrypt.
- `unseal(token, field=...)` → the value; tokens made under an older key still open while that key is
  listed in ``PERSONAL_DATA_OLD_KEYS`` (rotation: add the new key, re-seal, drop the old one).
- `digest(value, field=...)` → HMAC (SHA-256, or SM3 with SM4) under a key derived from the master
  key: equal values give equal digests, so a unique constraint and an exact search work without
  decrypting, while the digest alone cannot be reversed without the key.

- `archive_key(salt=..., kid=...)` → a key of its own for one backup archive (`gridgov.manage.backup`).

The master key is the installation's own (``GRIDGOV_DATA_KEY``, 32 random bytes in base64: config/keys.py),
never derived from SECRET_KEY: the development settings keep it in var/keys/data-key (mode 600), tests make
a throwaway one, production refuses to start without it. Without the key a copied database holds only
ciphertext and digests.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

TOKEN_PREFIX = "g1"  # noqa: S105 (a format tag, not a secret)
AES = "aes"
SM4 = "sm4"
ALGORITHMS = {"AES-GCM": AES, "SM4-GCM": SM4}
NONCE_BYTES = 12
TAG_BYTES = 16


class SealError(ValueError):
    """A token that does not open: wrong key, wrong field, or altered."""


@dataclass(frozen=True)
class _Key:
    kid: str
    enc_aes: bytes
    enc_sm4: bytes
    mac: bytes
    backup: bytes


def _derive(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"gridgov-personal-data", info=info).derive(master)


def _decode_master(raw: str, name: str) -> bytes:
    try:
        master = base64.b64decode(raw.strip(), validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be base64 (32 random bytes): {exc}") from exc
    if len(master) < 32:
        raise ImproperlyConfigured(f"{name} must hold at least 32 bytes, it holds {len(master)}")
    return master


def _key(master: bytes) -> _Key:
    return _Key(
        kid=hashlib.sha256(b"kid" + master).hexdigest()[:8],
        enc_aes=_derive(master, b"enc-aes-256", 32),
        enc_sm4=_derive(master, b"enc-sm4", 16),
        mac=_derive(master, b"digest", 32),
        backup=_derive(master, b"backup-archive", 32),
    )


@functools.cache
def _keys(current: str, old: tuple[str, ...]) -> tuple[_Key, dict[str, _Key]]:
    if not current:
        raise ImproperlyConfigured("PERSONAL_DATA_KEY is not set (environment variable GRIDGOV_DATA_KEY)")
    key = _key(_decode_master(current, "GRIDGOV_DATA_KEY"))
    by_kid = {key.kid: key}
    for raw in old:
        k = _key(_decode_master(raw, "GRIDGOV_DATA_OLD_KEYS"))
        by_kid.setdefault(k.kid, k)
    return key, by_kid


# The settings read once per process (an import seals millions of values; reading Django's lazy settings
# for each costs more than the encryption). Cleared when a test overrides one of them.
_config: dict[str, object] = {}
_SETTINGS = ("PERSONAL_DATA_KEY", "PERSONAL_DATA_OLD_KEYS", "PERSONAL_DATA_CIPHER")


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs) -> None:
    if setting in _SETTINGS:
        _config.clear()


def _current() -> tuple[_Key, dict[str, _Key]]:
    keys = _config.get("keys")
    if keys is None:
        keys = _config["keys"] = _keys(settings.PERSONAL_DATA_KEY,
                                       tuple(getattr(settings, "PERSONAL_DATA_OLD_KEYS", ())))
    return keys


def algorithm() -> str:
    alg = _config.get("alg")
    if alg is None:
        name = getattr(settings, "PERSONAL_DATA_CIPHER", "AES-GCM")
        try:
            alg = _config["alg"] = ALGORITHMS[name]
        except KeyError:
            raise ImproperlyConfigured(f"PERSONAL_DATA_CIPHER must be one of {sorted(ALGORITHMS)}, "
                                       f"not {name!r}") from None
    return alg


def _sm4_encrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(data) + encryptor.finalize() + encryptor.tag


def _sm4_decrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    body, tag = data[:-TAG_BYTES], data[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(body) + decryptor.finalize()


@functools.cache
def _aesgcm(key: bytes) -> AESGCM:
    return AESGCM(key)


def seal(value: str, *, field: str) -> str:
    """The token for `value` ("" stays "": an empty field holds nothing to protect)."""
    if not value:
        return ""
    key, _ = _current()
    alg = algorithm()
    nonce = os.urandom(NONCE_BYTES)
    aad = field.encode()
    data = value.encode()
    body = (_aesgcm(key.enc_aes).encrypt(nonce, data, aad) if alg == AES
            else _sm4_encrypt(key.enc_sm4, nonce, data, aad))
    return f"{TOKEN_PREFIX}.{key.kid}.{alg}.{base64.b64encode(nonce + body).decode()}"


def unseal(token: str, *, field: str) -> str:
    if not token:
        return ""
    try:
        prefix, kid, alg, payload = token.split(".", 3)
        raw = base64.b64decode(payload, validate=True)
    except ValueError:
        raise SealError("not a sealed value") from None
    _, by_kid = _current()
    key = by_kid.get(kid)
    if prefix != TOKEN_PREFIX or key is None or alg not in (AES, SM4) or len(raw) < NONCE_BYTES + TAG_BYTES:
        raise SealError("sealed under an unknown key or format")
    nonce, body = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
    try:
        if alg == AES:
            return _aesgcm(key.enc_aes).decrypt(nonce, body, field.encode()).decode()
        return _sm4_decrypt(key.enc_sm4, nonce, body, field.encode()).decode()
    except InvalidTag:
        raise SealError("the sealed value was altered or belongs to another field") from None


def digest(value: str, *, field: str) -> str:
    """The keyed digest of `value` for exact lookups ("" for an empty value)."""
    if not value:
        return ""
    key, _ = _current()
    hash_name = "sm3" if algorithm() == SM4 and "sm3" in hashlib.algorithms_available else "sha256"
    # one call into the C HMAC over "label NUL value": the same digest as a primed HMAC updated with the
    # value, without the Python-level copy of its state per value
    return hmac.digest(key.mac, f"{field}\x00{value}".encode(), hash_name).hex()



def archive_key(*, salt: bytes, kid: str | None = None) -> tuple[str, bytes]:
    """(key id, 256-bit key) for one backup archive: under the current data key when `kid` is None (a new
    archive), else under the key with that id, current or old (opening one); SealError when this
    installation holds no such key. `salt` is the archive's own random salt, so no two archives share a key."""
    key, by_kid = _current()
    if kid is not None:
        key = by_kid.get(kid)
        if key is None:
            raise SealError(f"the archive was made under another data key (key id {kid}); this installation "
                            f"holds {', '.join(sorted(by_kid))}")
    return key.kid, HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"gridgov-backup-v1").derive(key.backup)
