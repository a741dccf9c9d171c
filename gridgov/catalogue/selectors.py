"""Reads of the matter catalogue that other apps share."""

from __future__ import annotations

from gridgov.catalogue.models import Catalogue, SchemeCatalogue


def scheme_catalogue(scheme) -> Catalogue | None:
    """THE rule of which catalogue a scheme's matters come from (`scheme`: a LevelScheme or its id): the one
    its `SchemeCatalogue` row names, else the shipped `default` catalogue (None before it is loaded)."""
    scheme_id = getattr(scheme, "pk", scheme)
    link = SchemeCatalogue.objects.filter(scheme_id=scheme_id).select_related("catalogue").first()
    if link is not None:
        return link.catalogue
    return Catalogue.objects.filter(key="default").first()
