"""Which catalogue a scheme uses: one row of the catalogue app (`SchemeCatalogue`), one rule
(`selectors.scheme_catalogue`), set through audited services (admin included), moved from the loop's
`CasePolicy` by a migration that runs both ways."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from gridgov.catalogue.models import SchemeCatalogue
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.catalogue.services import scheme_catalogue_set
from gridgov.catalogue.tests.factories import make_catalogue
from gridgov.core.models import AuditEntry


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", password="Root-pass-2026!")


def _entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_a_scheme_uses_the_default_catalogue_until_it_is_given_another(scheme):
    # given nothing loaded, then the default and another catalogue
    assert scheme_catalogue(scheme) is None
    default, own = make_catalogue("default"), make_catalogue("own")
    # when / then
    assert scheme_catalogue(scheme) == default
    scheme_catalogue_set(scheme=scheme, catalogue=own)
    assert scheme_catalogue(scheme) == own
    assert scheme_catalogue(scheme.pk) == own
    scheme_catalogue_set(scheme=scheme, catalogue=None)
    assert scheme_catalogue(scheme) == default


def test_setting_the_catalogue_is_audited_with_old_and_new_values(scheme, root):
    # given two catalogues
    default, own = make_catalogue("default"), make_catalogue("own")
    # when the scheme is given its own, given it again, moved back and then reset to the default
    link = scheme_catalogue_set(scheme=scheme, catalogue=own, actor=root)
    scheme_catalogue_set(scheme=scheme, catalogue=own, actor=root)
    scheme_catalogue_set(scheme=scheme, catalogue=default, actor=root)
    scheme_catalogue_set(scheme=scheme, catalogue=None, actor=root)
    # then each change is one entry (the repeat none), with the catalogue's old and new id
    (added,) = _entries("catalogue.schemecatalogue_add")
    assert added.actor == root and added.target_id == str(link.pk)
    assert added.changes["catalogue"] == [None, own.pk] and added.changes["scheme"] == [None, scheme.pk]
    (changed,) = _entries("catalogue.schemecatalogue_change")
    assert changed.changes == {"catalogue": [own.pk, default.pk]}
    (deleted,) = _entries("catalogue.schemecatalogue_delete")
    assert deleted.changes["catalogue"] == [default.pk, None]
    assert not SchemeCatalogue.objects.exists()


def test_the_admin_sets_the_catalogue_through_the_audited_service(scheme, root):
    # given the superuser in the admin, and two catalogues
    default, own = make_catalogue("default"), make_catalogue("own")
    browser = Client()
    browser.force_login(root)
    # when they give the scheme its own catalogue, then change it back
    res = browser.post("/admin/catalogue/schemecatalogue/add/", {"scheme": scheme.pk, "catalogue": own.pk})
    assert res.status_code == 302
    link = SchemeCatalogue.objects.get(scheme=scheme)
    res = browser.post(f"/admin/catalogue/schemecatalogue/{link.pk}/change/",
                       {"scheme": scheme.pk, "catalogue": default.pk})
    assert res.status_code == 302
    # then both are audited, by them
    assert [e.actor for e in _entries("catalogue.schemecatalogue_add")] == [root]
    assert _entries("catalogue.schemecatalogue_change")[0].changes == {"catalogue": [own.pk, default.pk]}
    assert browser.get("/admin/catalogue/schemecatalogue/").status_code == 200


# ------------------------------------------------------------------------------------------ migration
BEFORE = [("cases", "0008_names_explain_themselves"), ("catalogue", "0004_handling_mode_reporter")]
AFTER = [("cases", "0009_scheme_catalogue_moves_to_the_catalogue"), ("catalogue", "0005_scheme_catalogue")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_policies_links_and_back():
    try:
        # given, before the move, two schemes whose policies name a catalogue and one whose policy names none
        old = _migrate(BEFORE)
        LevelScheme, Catalogue = old.get_model("territory", "LevelScheme"), old.get_model("catalogue", "Catalogue")
        CasePolicy = old.get_model("cases", "CasePolicy")
        own = Catalogue.objects.create(key="own", name_zh="本区清单")
        default = Catalogue.objects.create(key="default", name_zh="默认清单")
        a, b, c = (LevelScheme.objects.create(key=k, name_zh=k) for k in ("a", "b", "c"))
        CasePolicy.objects.create(scheme=a, catalogue=own)
        CasePolicy.objects.create(scheme=b, catalogue=default)
        CasePolicy.objects.create(scheme=c)
        # when migrating forward
        new = _migrate(AFTER)
        # then the links are the catalogue app's, and the policies keep everything else
        links = dict(new.get_model("catalogue", "SchemeCatalogue").objects.values_list("scheme__key", "catalogue__key"))
        assert links == {"a": "own", "b": "default"}
        assert new.get_model("cases", "CasePolicy").objects.count() == 3
        # when migrating back
        back = _migrate(BEFORE)
        # then the policies hold the links again
        policies = dict(back.get_model("cases", "CasePolicy").objects.values_list("scheme__key", "catalogue__key"))
        assert policies == {"a": "own", "b": "default", "c": None}
    finally:  # back to the latest migrations, so later tests on this worker have every trigger
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
