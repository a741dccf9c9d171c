"""Text messages (SMS) through a notification adapter: `send_sms(phone, text)` hands the message to the
backend named by `settings.SMS_BACKEND`. The rest of the code never knows which gateway is behind it.

Backends:
- `LogBackend` (the default): sends nothing; logs that a message went to a masked phone, never the number
  or the text (which may name a case a person reported);
- `LocmemBackend`: keeps messages in `outbox` (tests, demos);
- `HttpGatewayBackend`: POSTs JSON `{"phone", "text", "sign"}` with a bearer token to `SMS_GATEWAY_URL` and
  raises `SmsError` on anything but a 2xx answer, so the calling task can retry.

Settings: SMS_BACKEND (dotted path), SMS_GATEWAY_URL, SMS_GATEWAY_TOKEN, SMS_GATEWAY_TIMEOUT (seconds, 10),
SMS_SIGN (the sender's signature the operator registered with the carrier, e.g. 【某区网格中心】).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from gridgov.privacy.masking import mask_phone

logger = logging.getLogger("gridgov.sms")

DEFAULT_BACKEND = "gridgov.privacy.sms.LogBackend"


class SmsError(Exception):
    """The gateway did not take the message (unreachable, refused, timed out). Never carries the phone
    number or the text."""


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str
    sign: str


def _sign() -> str:
    return settings.SMS_SIGN


class BaseBackend:
    def send(self, message: SmsMessage) -> None:
        raise NotImplementedError


class LogBackend(BaseBackend):
    """Sends nothing: records in the log that a message would have gone to a masked number."""

    def send(self, message: SmsMessage) -> None:
        logger.info("SMS (%d characters) to %s not sent: the log backend is configured", len(message.text),
                    mask_phone(message.phone))


# messages "sent" with LocmemBackend, oldest first; tests empty it
outbox: list[SmsMessage] = []


class LocmemBackend(BaseBackend):
    def send(self, message: SmsMessage) -> None:
        outbox.append(message)


class HttpGatewayBackend(BaseBackend):
    """A JSON-over-HTTPS SMS gateway (the operator's own or a carrier's relay)."""

    def send(self, message: SmsMessage) -> None:
        url = settings.SMS_GATEWAY_URL
        if not url.startswith(("https://", "http://")):
            raise ImproperlyConfigured("SMS_GATEWAY_URL must be an http(s) address")
        token = settings.SMS_GATEWAY_TOKEN
        timeout = float(settings.SMS_GATEWAY_TIMEOUT)
        body = json.dumps({"phone": message.phone, "text": message.text, "sign": message.sign},
                          ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # the scheme is checked above: only http(s), never file:// or ftp://
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise SmsError(f"the SMS gateway refused the message (HTTP {exc.code})") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmsError(f"the SMS gateway could not be reached ({type(reason).__name__})") from None
        if not 200 <= status < 300:
            raise SmsError(f"the SMS gateway answered HTTP {status}")
        logger.info("SMS (%d characters) to %s handed to the gateway", len(message.text), mask_phone(message.phone))


def sms_backend() -> BaseBackend:
    path = settings.SMS_BACKEND or DEFAULT_BACKEND
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"SMS_BACKEND {path!r} cannot be imported: {exc}") from exc
    return backend_class()


def send_sms(phone: str, text: str) -> SmsMessage:
    """Send `text` to `phone` through the configured backend; raises `SmsError` when the gateway does not
    take it. The caller decides whether to retry."""
    phone, text = (phone or "").strip(), (text or "").strip()
    if not phone or not text:
        raise ValueError("an SMS needs a phone number and a text")
    message = SmsMessage(phone=phone, text=text, sign=_sign())
    sms_backend().send(message)
    return message
