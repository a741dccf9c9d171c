"""Error reports outside DEBUG carry no form values and no local variables."""

from __future__ import annotations

import sys

from django.test import RequestFactory
from django.views.debug import ExceptionReporter


def test_error_report_hides_posted_values_and_locals(settings):
    settings.DEBUG = False
    request = RequestFactory().post("/api/people/residents/", {"id_number": "11010519491231002X", "name": "张三"})
    id_number = "11010519491231002X"  # a local variable of the failing frame
    try:
        raise ValueError("boom")
    except ValueError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        text = reporter.get_traceback_text()
    assert id_number not in text and "张三" not in text
    assert "boom" in text
