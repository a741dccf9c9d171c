"""A report's body is checked with fields built once per process (`core.api.InputFieldsOnce`): for bodies
valid and invalid, JSON and multipart (with photos), in both languages and from many threads at once, the
errors (field names, messages, codes) and the validated values are those of fields built for the one body,
as DRF builds them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.utils import translation

from gridgov.cases.attachments import PHOTOS_MAX
from gridgov.cases.serializers import CaseReportUploadSerializer
from gridgov.cases.services.intake import DESCRIPTION_MAX_LENGTH
from gridgov.cases.tests.factories import png

VALID = {"channel": "HOTLINE", "matter": "02001", "scheme": "test1", "lon": 116.05, "lat": 40.05,
         "description": "占道经营"}


def _photo(name="p.png"):
    return SimpleUploadedFile(name, png(), content_type="image/png")


def _form(photos: int = 1, **values) -> QueryDict:
    form = QueryDict(mutable=True)
    for key, value in {**VALID, **values}.items():
        form[key] = str(value)
    form.setlist("photos", [_photo(f"p{i}.png") for i in range(photos)])
    return form


def _bodies() -> list:
    return [
        VALID,
        {**VALID, "place": "3号楼", "reporter_name": "王某", "reporter_phone": "13800138000", "anonymous": True,
         "report_level": "URGENT", "handling_mode": "SELF", "external_ref": "ext-1",
         "attributes": {"problem": "missing"}, "self_handled": True, "note": "已劝离", "node": "g1"},
        {},
        {**VALID, "channel": "CAMERA"},
        {**VALID, "description": ""},
        {**VALID, "description": "x" * (DESCRIPTION_MAX_LENGTH + 1)},
        {**VALID, "lon": 200, "lat": "north"},
        {**VALID, "matter": "2001", "node": "a b", "scheme": "not a slug!"},
        {**VALID, "attributes": ["a"], "report_level": "SOMETIMES", "anonymous": "perhaps"},
        {**VALID, "attributes": {"problem": "mis\x00sing"}},
        {**VALID, "attributes": '{"problem": "missing"}', "lon": None, "lat": None},
        ["not", "an", "object"],
        _form(),
        _form(photos=PHOTOS_MAX + 1, anonymous="true", attributes='{"problem": "missing"}'),
        _form(photos=0, attributes="not json", self_handled="yes"),
    ]


def _outcome(body, *, own: bool) -> tuple:
    serializer = CaseReportUploadSerializer(data=body, context={"own fields": True} if own else None)
    valid = serializer.is_valid()
    errors = {name: [(str(e), e.code) for e in errs] if isinstance(errs, list) else repr(errs)
              for name, errs in serializer.errors.items()}
    return valid, list(errors.items()), list(serializer.validated_data.items()) if valid else None


def test_a_report_body_checked_with_fields_built_once_answers_as_fields_built_for_it():
    for language in ("zh-hans", "en"):
        with translation.override(language):
            for body in _bodies():
                # when a body is checked with the shared fields and with fields of its own
                shared, own = _outcome(body, own=False), _outcome(body, own=True)
                # then the outcome is the same: validity, errors in order with their messages, values
                assert shared == own, body
    with translation.override("en"):
        assert _outcome({**VALID, "description": ""}, own=False)[1] == [
            ("description", [("This field may not be blank.", "blank")])]


def test_threads_checking_bodies_at_once_each_get_their_own_outcome():
    # given the outcome of each body checked alone
    bodies = [b for b in _bodies() if not isinstance(b, QueryDict)]  # an upload is read once
    expected = [_outcome(b, own=True) for b in bodies]
    # when eight threads check them all, many times over, with the shared fields
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: _outcome(bodies[i % len(bodies)], own=False), range(40 * len(bodies))))
    # then every check gave its body's outcome
    assert got == [expected[i % len(bodies)] for i in range(40 * len(bodies))]
