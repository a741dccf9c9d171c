"""The SMS adapter: the configured backend takes the message; the log never holds a number or a text; the
HTTP gateway backend speaks JSON with a bearer token and raises on anything but 2xx (tested against a real
HTTP server on this machine)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from gridgov.privacy import sms


@pytest.fixture
def outbox(settings):
    settings.SMS_BACKEND = "gridgov.privacy.sms.LocmemBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


class _Gateway(BaseHTTPRequestHandler):
    """A stand-in SMS gateway: records what it was sent and answers with the status it is told to."""

    status = 200
    received: list[dict] = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.received.append({"path": self.path, "headers": dict(self.headers),
                              "body": json.loads(self.rfile.read(length).decode("utf-8"))})
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}' if self.status < 300 else b'{"error": "refused"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway(settings):
    _Gateway.received = []
    _Gateway.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "gridgov.privacy.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_port}/sms/send"
    settings.SMS_GATEWAY_TOKEN = "gw-token-123"
    settings.SMS_GATEWAY_TIMEOUT = 5
    settings.SMS_SIGN = "【平谷网格】"
    yield _Gateway
    server.shutdown()
    server.server_close()


def test_the_locmem_backend_keeps_the_message_with_the_sign(outbox, settings):
    # given a sign
    settings.SMS_SIGN = "【平谷网格】"
    # when a message is sent
    sms.send_sms(" 13812345678 ", "您的诉求已登记")
    # then it is in the outbox as sent
    assert outbox == [sms.SmsMessage(phone="13812345678", text="您的诉求已登记", sign="【平谷网格】")]


def test_the_log_backend_names_only_a_masked_number(settings, caplog):
    # given no backend configured
    settings.SMS_BACKEND = ""  # unset: the log backend
    # when a message is sent
    with caplog.at_level(logging.INFO, logger="gridgov.sms"):
        sms.send_sms("13812345678", "您的诉求 ABC 已登记")
    # then the log says a message went to the masked number, and holds neither the number nor the text
    assert "138****5678" in caplog.text
    assert "13812345678" not in caplog.text and "ABC" not in caplog.text and "登记" not in caplog.text


def test_a_message_needs_a_number_and_a_text_and_a_known_backend(outbox, settings):
    with pytest.raises(ValueError):
        sms.send_sms("", "text")
    with pytest.raises(ValueError):
        sms.send_sms("13812345678", "  ")
    assert outbox == []
    settings.SMS_BACKEND = "gridgov.privacy.sms.NoSuchBackend"
    with pytest.raises(ImproperlyConfigured):
        sms.send_sms("13812345678", "text")


def test_the_http_gateway_gets_json_with_a_bearer_token(gateway):
    # when a message is sent through the gateway
    message = sms.send_sms("13812345678", "您的诉求 ABC 已登记")
    # then the gateway got one POST with the phone, the text and the sign, authorised by the token
    assert len(gateway.received) == 1
    request = gateway.received[0]
    assert request["path"] == "/sms/send"
    assert request["headers"]["Authorization"] == "Bearer gw-token-123"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["body"] == {"phone": "13812345678", "text": "您的诉求 ABC 已登记", "sign": "【平谷网格】"}
    assert message.sign == "【平谷网格】"


@pytest.mark.parametrize("status", [400, 401, 500, 503])
def test_a_refusing_gateway_raises_without_personal_data(gateway, status):
    # given a gateway that refuses
    gateway.status = status
    # when a message is sent, then an SmsError says so, naming the status and not the number or the text
    with pytest.raises(sms.SmsError) as raised:
        sms.send_sms("13812345678", "您的诉求 ABC 已登记")
    assert str(status) in str(raised.value)
    assert "13812345678" not in str(raised.value) and "ABC" not in str(raised.value)
    assert len(gateway.received) == 1


def test_an_unreachable_gateway_raises(settings):
    # given a gateway address nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.SMS_BACKEND = "gridgov.privacy.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{port}/sms"
    settings.SMS_GATEWAY_TIMEOUT = 2
    # when a message is sent, then SmsError
    with pytest.raises(sms.SmsError, match="could not be reached"):
        sms.send_sms("13812345678", "text")


def test_the_gateway_address_must_be_http(settings):
    settings.SMS_BACKEND = "gridgov.privacy.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = "file:///etc/passwd"
    with pytest.raises(ImproperlyConfigured):
        sms.send_sms("13812345678", "text")
