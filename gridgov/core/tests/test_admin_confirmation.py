"""The shared confirmation page of admin actions (retiring cells, deciding admission requests)."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.test import Client

from gridgov.cases.tests.factories import make_loop, matter
from gridgov.catalogue.admission import admission_apply, duty_list_create


def test_action_confirmation_pages_render_with_their_breadcrumbs(scheme, tree):
    loop = make_loop(scheme, tree)
    root = get_user_model().objects.create_superuser("r", password="Root-pass-2026!")
    c = Client()
    c.force_login(root)
    r = c.post("/admin/territory/node/", {"action": "retire_nodes", ACTION_CHECKBOX_NAME: [tree["g2"].pk]})
    assert r.status_code == 200 and 'href="/admin/territory/node/"' in r.content.decode(), r.content[:500]
    dl = duty_list_create(scheme=scheme, key="g", name_zh="清单", duty_tier="GRID")
    req = admission_apply(actor=loop.centre, duty_list=dl, matter=matter("02001"), reason="下沉")
    for action in ("approve", "reject"):
        r = c.post("/admin/catalogue/admissionrequest/", {"action": action, ACTION_CHECKBOX_NAME: [req.pk]})
        page = r.content.decode()
        assert r.status_code == 200 and 'href="/admin/catalogue/admissionrequest/"' in page and "model-admissionrequest" in page
