"""Grid maps: grid / micro-grid / unit polygons in and out of the territory tree.

The package's rooms: `read` (a file into rows), `rows` (a row's fields and polygon), `importer`
(`gridmap_import`), `checks` (polygon checks, `gridmap_validate`), `export` (`gridmap_export`), `report`
(what an import or a check found, as data and as Markdown) and `runs` (an import from the management
pages or the API, checked first and run in the background when the file is large).

`read.gridmap_read` turns a file into rows: a GeoJSON FeatureCollection (.geojson / .json), or a Shapefile
(.shp with its .dbf, .shx, .prj, .cpg beside it, or all of them in a .zip) read with pyshp, pure
Python. Coordinates must be longitude/latitude on WGS-84 or CGCS2000: a .prj (or a GeoJSON `crs`)
naming a projected or other CRS is refused with its name, never imported as garbage. Shapefile
attribute text is decoded with the .cpg's encoding, else UTF-8, else GB18030 (a superset of GBK,
which Chinese GIS software writes by default).

`importer.gridmap_import` attaches each row under its parent: by `parent_code`, else by its own code (grid
codes extend the parent's code), else by containment (the active node of the level above holding
most of the polygon). Rows are processed level by level, top first, so one file can hold grids and
their micro-grids. Rows without a code at a sequence-coded level get the next codes under their
parent in reading order (north → south, west → east). A row whose code exists updates that node
(name, polygon, type, class, attributes merged) through `services.node_update`, and only when
something differs; otherwise it is reported unchanged and nothing is written.

Policy (the report lists every row with its status and reasons; nothing is dropped silently):
- rejected rows: invalid or self-intersecting polygon, unknown level, bad or duplicate code, unknown
  parent, polygon sticking out of its parent by more than the area tolerance
  (settings.TERRITORY_AREA_TOLERANCE_M2, or one part in a million of the polygon), unknown type or
  class, missing name. A rejected row changes nothing already stored.
- rejected too: a polygon of more than TERRITORY_MAX_VERTICES vertices (counted before it is built).
- warnings (rows imported, the problem reported): overlaps between siblings, gaps inside a parent. Points
  in an overlap stay in the older cell (`locate()`: deepest, then lowest id), so a newcomer drawn over
  its sibling never captures them; the warning names the cell that keeps them.
- the file itself: held to the grid-map upload limits (`core.uploads`) and GRIDMAP_MAX_FEATURES.
- mode "per_row": good rows are kept, each rejected row is listed with its reasons.
  mode "all_or_nothing": one rejected row rolls the whole file back; the report still says what
  each row would have done. `dry_run` validates and reports, then rolls back, in either mode.

`gridmap_validate` checks what is stored (overlaps, gaps, children sticking out) and
`gridmap_export` writes a GeoJSON FeatureCollection, now or as of a past date, that re-imports to
the same tree.
"""

from gridgov.territory.gridmaps.checks import gridmap_validate
from gridgov.territory.gridmaps.export import gridmap_export
from gridgov.territory.gridmaps.importer import gridmap_import
from gridgov.territory.gridmaps.read import UPLOAD_KIND, FeatureRow, GridMapError, gridmap_read
from gridgov.territory.gridmaps.report import GridMapReport, ImportMode, RowResult, RowStatus
from gridgov.territory.gridmaps.rows import PROPERTY_ALIASES

__all__ = [
    "PROPERTY_ALIASES",
    "UPLOAD_KIND",
    "FeatureRow",
    "GridMapError",
    "GridMapReport",
    "ImportMode",
    "RowResult",
    "RowStatus",
    "gridmap_export",
    "gridmap_import",
    "gridmap_read",
    "gridmap_validate",
]
