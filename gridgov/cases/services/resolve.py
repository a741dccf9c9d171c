"""Resolving what a report names — its level scheme, its matter, its cell (by code, point or known
address) — into rows, with a ValidationError naming the field when it cannot."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from gridgov.catalogue.models import Matter
from gridgov.catalogue.selectors import catalogue_matter, scheme_catalogue
from gridgov.core import versioned
from gridgov.territory.locate import cell_resolve
from gridgov.territory.models import LevelScheme, Node


def scheme_resolve(scheme, node) -> LevelScheme:
    """The report's level scheme: the one named (by key), else the cell's, else the only one. The schemes are
    cached per process until one changes (`core.versioned`, SCHEME)."""
    if isinstance(scheme, LevelScheme):
        return scheme
    if scheme:
        key = str(scheme)
        found = versioned.versioned_get(versioned.SCHEME, ("key", key),
                                        lambda: LevelScheme.objects.filter(key=key).first())
        if found is None:
            raise ValidationError({"scheme": _("unknown level scheme %(key)s") % {"key": scheme}})
        return found
    if isinstance(node, Node):
        return node.scheme
    schemes = versioned.versioned_get(versioned.SCHEME, "first two", lambda: tuple(LevelScheme.objects.all()[:2]))
    if len(schemes) == 1:
        return schemes[0]
    raise ValidationError({"scheme": _("name the level scheme (jurisdiction) of the report")})


def matter_resolve(*, scheme: LevelScheme, matter, field: str = "matter") -> Matter | None:
    """A matter of the scheme's catalogue, by instance, id or five-digit code."""
    if matter in (None, ""):
        return None
    catalogue = scheme_catalogue(scheme)
    if isinstance(matter, Matter):
        found = matter if catalogue is None or matter.catalogue_id == catalogue.pk else None
    else:
        code = str(matter).strip()
        found = catalogue_matter(catalogue=catalogue, code=code) if catalogue else None
    if found is None:
        raise ValidationError({field: _("unknown matter %(code)s") % {"code": getattr(matter, "code", matter)}})
    if not found.active:
        raise ValidationError({field: _("matter %(code)s is no longer in use") % {"code": found.code}})
    return found


def node_resolve(*, scheme: LevelScheme, node, lon, lat, place: str) -> tuple[Node, float | None, float | None]:
    """The cell of a report (`territory.locate.cell_resolve`: a cell, a point, or both), else the cell of the
    known building at `place`; with the point where it was given or the building's."""
    cell = cell_resolve(scheme=scheme, node=node, lon=lon, lat=lat)
    if cell is not None:
        return (cell, float(lon), float(lat)) if lon is not None and lat is not None else (cell, lon, lat)
    if place:
        from gridgov.people.models import Building

        building = (Building.objects.filter(scheme=scheme, address=place.strip()).select_related("node").first()
                    or Building.objects.filter(scheme=scheme, name=place.strip()).select_related("node").first())
        if building is not None:
            return building.node, building.lon, building.lat
        raise ValidationError({"location": _("the address %(place)s is not a known building; give the point or "
                                             "the cell") % {"place": place}})
    raise ValidationError({"location": _("give the point (longitude and latitude), the cell or a known address")})
