"""The territory tree: level schemes, vocabularies, nodes (cells) and their history.

Invariants (enforced by the database where it can, by `services` otherwise):
- a node's level and parent belong to the node's scheme, and the level is deeper than the parent's;
- (scheme, code) is unique over every node ever created, and every code ever issued is kept in
  `IssuedCode`, so a code is never reused, even after the node is retired or recoded;
- a node's identity is stable: moves, renames and boundary edits change the row and append a
  `NodeVersion`; splits and merges retire nodes and create new ones linked by `NodeLineage`;
- `path` is the chain of ancestor ids ("/1/7/42/") and is rewritten for a whole subtree on a move;
- every structural or geometric change bumps `TerritoryVersion` in the same transaction so each
  process's cached spatial index is rebuilt before its next `locate()`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.core.i18n import localized


class AdminRank(models.IntegerChoices):
    """Rank in China's statistical division code: how many leading digits are significant."""

    PROVINCE = 1, _("Province")
    PREFECTURE = 2, _("Prefecture / city")
    COUNTY = 3, _("County / district")
    TOWNSHIP = 4, _("Town / street")
    VILLAGE = 5, _("Village / community")


# Significant digits of a 12-digit statistical code per rank (e.g. a county is 6 digits + 000000).
ADMIN_SIGNIFICANT_DIGITS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}
NATIONAL_CODE_LENGTH = 12


class LevelScheme(models.Model):
    """A deployment's own naming of the levels of its territory (区→街道→社区→网格→微网格 ...)."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("level scheme")
        verbose_name_plural = _("level schemes")
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} {self.name_zh}"

    @property
    def name(self) -> str:
        return localized(self)


class Level(models.Model):
    """One level of a scheme. `depth` 0 is the top. Codes at this level follow one of three rules:
    a 12-digit national statistical code (`admin_rank` set), the parent's code extended by
    `code_digits` sequence digits (grid-type levels), or a free code unique in the scheme."""

    scheme = models.ForeignKey(LevelScheme, on_delete=models.CASCADE, related_name="levels",
                               verbose_name=_("scheme"))
    key = models.SlugField(_("key"), max_length=40)
    name_zh = models.CharField(_("name (Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50, blank=True)
    depth = models.PositiveSmallIntegerField(_("depth"), help_text=_("0 is the top level"))
    is_grid = models.BooleanField(_("grid-type level"), default=False,
                                  help_text=_("Grids, micro-grids and units: cells with people in charge"))
    admin_rank = models.PositiveSmallIntegerField(_("administrative rank"), choices=AdminRank.choices,
                                                  null=True, blank=True)
    code_digits = models.PositiveSmallIntegerField(
        _("code digits"), null=True, blank=True,
        help_text=_("Sequence digits appended to the parent's code (e.g. 3 for grids, 3 or 4 for units)"),
    )

    class Meta:
        verbose_name = _("level")
        verbose_name_plural = _("levels")
        ordering = ["scheme", "depth"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "key"], name="level_unique_key"),
            models.UniqueConstraint(fields=["scheme", "depth"], name="level_unique_depth"),
            models.CheckConstraint(
                condition=Q(code_digits__isnull=True) | Q(code_digits__gte=1, code_digits__lte=6),
                name="level_code_digits_range",
            ),
            models.CheckConstraint(
                condition=Q(admin_rank__isnull=True) | Q(code_digits__isnull=True),
                name="level_admin_or_sequence_code",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scheme.key}:{self.key} {self.name_zh}"

    @property
    def name(self) -> str:
        return localized(self)


class Vocabulary(models.TextChoices):
    NODE_TYPE = "NODE_TYPE", _("Node type")
    MANAGEMENT_CLASS = "MANAGEMENT_CLASS", _("Management class")


class Term(models.Model):
    """A value of a configurable vocabulary: node types (comprehensive / dedicated, residential /
    industrial-commercial / urban village / mixed, concentrated / transition / ecological) and
    management classes (1-3)."""

    scheme = models.ForeignKey(LevelScheme, on_delete=models.CASCADE, related_name="terms",
                               verbose_name=_("scheme"))
    vocabulary = models.CharField(_("vocabulary"), max_length=20, choices=Vocabulary.choices)
    key = models.SlugField(_("key"), max_length=40)
    name_zh = models.CharField(_("name (Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("vocabulary term")
        verbose_name_plural = _("vocabulary terms")
        ordering = ["scheme", "vocabulary", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "vocabulary", "key"], name="term_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.key})"

    @property
    def name(self) -> str:
        return localized(self)


class NodeQuerySet(models.QuerySet):
    def active(self, on=None):
        """Nodes in force on date `on` (today when None)."""
        from django.utils import timezone

        day = on or timezone.localdate()
        return self.filter(valid_from__lte=day).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))

    def current(self):
        return self.filter(valid_to__isnull=True)

    def descendants_of(self, node, *, include_self: bool = False):
        qs = self.filter(path__startswith=node.path)
        return qs if include_self else qs.exclude(pk=node.pk)


class Node(models.Model):
    """A cell of the territory tree: district, street, community, grid, micro-grid, unit ...

    Write through `territory.services` only: they validate codes, geometry and parentage, keep the
    path, history and territory version in step."""

    scheme = models.ForeignKey(LevelScheme, on_delete=models.PROTECT, related_name="nodes",
                               verbose_name=_("scheme"))
    level = models.ForeignKey(Level, on_delete=models.PROTECT, related_name="nodes", verbose_name=_("level"))
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="children", verbose_name=_("parent"))
    code = models.CharField(_("code"), max_length=32, blank=True, default="")
    name = models.CharField(_("name"), max_length=200)
    node_type = models.ForeignKey(Term, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="typed_nodes", verbose_name=_("type"))
    management_class = models.ForeignKey(Term, on_delete=models.PROTECT, null=True, blank=True,
                                         related_name="classed_nodes", verbose_name=_("management class"))
    geometry = models.JSONField(_("boundary (GeoJSON)"), null=True, blank=True)
    area_m2 = models.FloatField(_("area (m²)"), null=True, blank=True)
    centroid_lon = models.FloatField(_("centroid longitude"), null=True, blank=True)
    centroid_lat = models.FloatField(_("centroid latitude"), null=True, blank=True)
    min_lon = models.FloatField(null=True, blank=True, editable=False)
    min_lat = models.FloatField(null=True, blank=True, editable=False)
    max_lon = models.FloatField(null=True, blank=True, editable=False)
    max_lat = models.FloatField(null=True, blank=True, editable=False)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True,
                                help_text=_("First day the node is no longer in force; empty = active"))
    path = models.CharField(_("path"), max_length=255, editable=False, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = NodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("territory node")
        verbose_name_plural = _("territory nodes")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "code"], condition=~Q(code=""), name="node_unique_code"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                                   name="node_valid_period"),
            models.CheckConstraint(condition=Q(area_m2__isnull=True) | Q(area_m2__gte=0), name="node_area_positive"),
        ]
        indexes = [
            # varchar_pattern_ops lets PostgreSQL use the index for `path LIKE '/1/7/%'`; SQLite ignores it.
            models.Index(fields=["path"], name="node_path_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["scheme", "level"], name="node_scheme_level_idx"),
            models.Index(fields=["valid_to"], name="node_valid_to_idx"),
        ]
        permissions = [
            ("reorganise_node", _("Can split, merge and move territory nodes")),
            ("import_territory", _("Can import divisions and grid maps")),
        ]

    def __str__(self) -> str:
        return f"{self.code or '-'} {self.name}"

    @property
    def is_active(self) -> bool:
        return self.valid_to is None

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2 if self.path else 0

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part][:-1]


class ChangeKind(models.TextChoices):
    CREATE = "CREATE", _("Created")
    UPDATE = "UPDATE", _("Updated")
    MOVE = "MOVE", _("Moved")
    RECODE = "RECODE", _("Recoded")
    SPLIT = "SPLIT", _("Split")
    MERGE = "MERGE", _("Merged")
    RETIRE = "RETIRE", _("Retired")


class NodeVersion(models.Model):
    """The state of a node over [valid_from, valid_to). Append-only except for closing the open row.

    The tree as of a past date is read from these rows (see `selectors.node_tree_as_of`)."""

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="versions", verbose_name=_("node"))
    parent = models.ForeignKey(Node, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("parent"))
    level = models.ForeignKey(Level, on_delete=models.PROTECT, related_name="+", verbose_name=_("level"))
    code = models.CharField(_("code"), max_length=32, blank=True)
    name = models.CharField(_("name"), max_length=200)
    node_type = models.ForeignKey(Term, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    management_class = models.ForeignKey(Term, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    geometry = models.JSONField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    change = models.CharField(_("change"), max_length=10, choices=ChangeKind.choices)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("actor"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("node version")
        verbose_name_plural = _("node versions")
        ordering = ["node", "valid_from", "id"]
        constraints = [
            models.UniqueConstraint(fields=["node"], condition=Q(valid_to__isnull=True),
                                    name="nodeversion_one_open_row"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                                   name="nodeversion_valid_period"),
        ]
        indexes = [models.Index(fields=["valid_from", "valid_to"], name="nodeversion_period_idx")]

    def __str__(self) -> str:
        return f"{self.code} {self.name} [{self.valid_from} – {self.valid_to or '…'}) {self.change}"


class NodeLineage(models.Model):
    """Predecessor → successor links for splits and merges, so figures can be carried across them."""

    predecessor = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="successor_links")
    successor = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="predecessor_links")
    kind = models.CharField(_("kind"), max_length=10, choices=ChangeKind.choices)
    effective_date = models.DateField(_("effective date"))
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("node lineage")
        verbose_name_plural = _("node lineage")
        constraints = [
            models.UniqueConstraint(fields=["predecessor", "successor"], name="lineage_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.predecessor_id} → {self.successor_id} ({self.kind})"


class IssuedCode(models.Model):
    """Every code ever given to a node. The unique constraint is what makes codes never reused."""

    scheme = models.ForeignKey(LevelScheme, on_delete=models.CASCADE, related_name="issued_codes")
    code = models.CharField(max_length=32)
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="issued_codes")
    issued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("issued code")
        verbose_name_plural = _("issued codes")
        constraints = [models.UniqueConstraint(fields=["scheme", "code"], name="issuedcode_unique")]

    def __str__(self) -> str:
        return self.code


class TerritoryVersion(models.Model):
    """A single row whose `value` grows with every structural or geometric change of the territory."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("territory version")
        verbose_name_plural = _("territory version")

    def __str__(self) -> str:
        return str(self.value)
