"""Reads of the matter catalogue that other apps share. The catalogue changes rarely: its reads here are
cached per process until any of its tables is written (`core.versioned`, CATALOGUE); the values are
shared, read-only."""

from __future__ import annotations

from gridgov.catalogue.models import Catalogue, Matter, MatterStage, SchemeCatalogue
from gridgov.core import versioned


def scheme_catalogue(scheme) -> Catalogue | None:
    """THE rule of which catalogue a scheme's matters come from (`scheme`: a LevelScheme or its id): the one
    its `SchemeCatalogue` row names, else the shipped `default` catalogue (None before it is loaded)."""
    scheme_id = getattr(scheme, "pk", scheme)
    return versioned.versioned_get(versioned.CATALOGUE, ("scheme", scheme_id), lambda: _scheme_catalogue_read(scheme_id))


def _scheme_catalogue_read(scheme_id) -> Catalogue | None:
    link = SchemeCatalogue.objects.filter(scheme_id=scheme_id).select_related("catalogue").first()
    if link is not None:
        return link.catalogue
    return Catalogue.objects.filter(key="default").first()


def catalogue_matter(*, catalogue: Catalogue, code: str) -> Matter | None:
    """The matter of `catalogue` with the five-digit `code` (its category loaded), or None."""
    return versioned.versioned_get(
        versioned.CATALOGUE, ("matter", catalogue.pk, code),
        lambda: Matter.objects.filter(catalogue=catalogue, code=code).select_related("category").first())


def matter_stages(matter_id: int) -> tuple[MatterStage, ...]:
    """The matter's staged time limits in order (the clock plans a case's stages from them)."""
    return versioned.versioned_get(versioned.CATALOGUE, ("stages", matter_id),
                                   lambda: tuple(MatterStage.objects.filter(matter_id=matter_id).order_by("order")))
