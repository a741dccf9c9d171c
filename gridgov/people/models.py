"""Base data (三实: real population, real houses, real units), each row located in a territory cell.

Invariants (the database enforces what it can, `services` the rest):
- every row belongs to one scheme (deployment) and sits in one cell (`node`) of that scheme;
- natural keys are unique per scheme over every row ever stored: a resident's ID number (as its keyed
  digest), a household's number, a house's code, a unit's unified social credit code; so re-importing
  a file updates rows instead of duplicating them;
- ID numbers and phones are never stored in clear: `*_sealed` holds the authenticated ciphertext,
  `*_digest` the keyed hash for exact lookups, `*_masked` what every page shows;
- rows are not deleted when people move out, die or are removed: `state` + `state_date` say so; only
  `record_erase` (a PIPL request, privileged, logged) deletes a row and blanks its history;
- every write appends a `RecordHistory` row (who, when, which fields, the state after) in the same
  transaction, so a record as of a past date can be shown;
- a household has at most one active head; a resident is in at most one household (`household` FK);
- who saw personal data in clear is logged in `privacy.AccessLog`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridgov.core.i18n import localized
from gridgov.core.names import validate_name


class RecordState(models.TextChoices):
    ACTIVE = "ACTIVE", _("Active")
    MOVED_OUT = "MOVED_OUT", _("Moved out")
    DECEASED = "DECEASED", _("Deceased")
    CLOSED = "CLOSED", _("Closed / dissolved")
    DEMOLISHED = "DEMOLISHED", _("Demolished")
    REMOVED = "REMOVED", _("Removed (entered by mistake)")


# The states each kind of record can take besides ACTIVE.
STATES_BY_MODEL = {
    "resident": {RecordState.MOVED_OUT, RecordState.DECEASED, RecordState.REMOVED},
    "household": {RecordState.MOVED_OUT, RecordState.CLOSED, RecordState.REMOVED},
    "house": {RecordState.DEMOLISHED, RecordState.REMOVED},
    "building": {RecordState.DEMOLISHED, RecordState.REMOVED},
    "legalentity": {RecordState.CLOSED, RecordState.MOVED_OUT, RecordState.REMOVED},
}


class BaseRecord(models.Model):
    """What every base-data row has: its deployment, its cell, its life-cycle state and who wrote it."""

    # no single-column indexes on scheme and node: every kind's unique (scheme, natural key) and its
    # (node, state) index lead with them and serve their look-ups; two more indexes per row cost imports
    scheme = models.ForeignKey("territory.LevelScheme", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("level scheme"), db_index=False)
    node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, related_name="+", verbose_name=_("cell"),
                             db_index=False)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=12, choices=RecordState.choices, default=RecordState.ACTIVE)
    state_date = models.DateField(_("state since"), null=True, blank=True)
    state_reason = models.CharField(_("state reason"), max_length=200, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("updated by"))

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.state == RecordState.ACTIVE


class Occupancy(models.TextChoices):
    OWNER = "OWNER", _("Owner-occupied")
    RENTED = "RENTED", _("Rented")
    VACANT = "VACANT", _("Vacant")


class Building(BaseRecord):
    """A building (楼栋) or a village compound: the houses in it share its address and cell."""

    code = models.CharField(_("building code"), max_length=40)
    name = models.CharField(_("name"), max_length=200, help_text=_("e.g. 3号楼, 幸福小区5栋"))
    address = models.CharField(_("address"), max_length=300, blank=True)
    floors = models.PositiveSmallIntegerField(_("floors"), null=True, blank=True)

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["scheme", "code"]
        constraints = [models.UniqueConstraint(fields=["scheme", "code"], name="building_unique_code")]
        indexes = [models.Index(fields=["node", "state"], name="building_node_idx")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class House(BaseRecord):
    """A dwelling or premises (房屋): its exact address is personal data (masked)."""

    code = models.CharField(_("house code"), max_length=60)
    building = models.ForeignKey(Building, on_delete=models.PROTECT, null=True, blank=True, related_name="houses",
                                 verbose_name=_("building"))
    address = models.CharField(_("address"), max_length=300)
    building_no = models.CharField(_("building number"), max_length=20, blank=True)
    entrance_no = models.CharField(_("unit (entrance)"), max_length=20, blank=True, help_text=_("单元 of a building"))
    floor = models.SmallIntegerField(_("floor"), null=True, blank=True)
    room = models.CharField(_("room"), max_length=20, blank=True)
    occupancy = models.CharField(_("occupancy"), max_length=10, choices=Occupancy.choices, default=Occupancy.OWNER)
    area_m2 = models.FloatField(_("floor area (m²)"), null=True, blank=True)

    class Meta:
        verbose_name = _("house")
        verbose_name_plural = _("houses")
        ordering = ["scheme", "code"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "code"], name="house_unique_code"),
            models.CheckConstraint(condition=Q(area_m2__isnull=True) | Q(area_m2__gte=0), name="house_area_positive"),
        ]
        indexes = [models.Index(fields=["node", "state"], name="house_node_idx")]

    def __str__(self) -> str:
        return f"{self.code}"


class Household(BaseRecord):
    """A household (户): lives in a house (or at an address) in a cell; its members are residents."""

    class Kind(models.TextChoices):
        FAMILY = "FAMILY", _("Family household")
        COLLECTIVE = "COLLECTIVE", _("Collective household")

    number = models.CharField(_("household number"), max_length=40, help_text=_("户号"))
    house = models.ForeignKey(House, on_delete=models.PROTECT, null=True, blank=True, related_name="households",
                              verbose_name=_("house"))
    address = models.CharField(_("address"), max_length=300, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.FAMILY)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["scheme", "number"]
        constraints = [models.UniqueConstraint(fields=["scheme", "number"], name="household_unique_number")]
        indexes = [models.Index(fields=["node", "state"], name="household_node_idx")]

    def __str__(self) -> str:
        return f"{self.number}"


class Relation(models.TextChoices):
    HEAD = "HEAD", _("Head of household")
    SPOUSE = "SPOUSE", _("Spouse")
    CHILD = "CHILD", _("Child")
    CHILD_IN_LAW = "CHILD_IN_LAW", _("Child-in-law")
    GRANDCHILD = "GRANDCHILD", _("Grandchild")
    PARENT = "PARENT", _("Parent")
    GRANDPARENT = "GRANDPARENT", _("Grandparent")
    SIBLING = "SIBLING", _("Sibling")
    OTHER = "OTHER", _("Other")


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Resident(BaseRecord):
    """A person living or registered in a cell (实有人口). Name, ID number, phone and addresses are
    personal data: masked by default, the ID number and phone sealed at rest."""

    name = models.CharField(pgettext_lazy("a person's", "name"), max_length=100, validators=[validate_name])
    id_sealed = models.TextField(_("ID number (sealed)"), editable=False)
    id_digest = models.CharField(_("ID number digest"), max_length=64, editable=False)
    id_masked = models.CharField(_("ID number"), max_length=18, editable=False)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, editable=False)
    birth_date = models.DateField(_("birth date"), editable=False)
    phone_sealed = models.TextField(_("phone (sealed)"), blank=True, editable=False)
    phone_digest = models.CharField(_("phone digest"), max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="members", verbose_name=_("household"))
    relation = models.CharField(_("relation to the head"), max_length=12, choices=Relation.choices, blank=True)
    house = models.ForeignKey(House, on_delete=models.PROTECT, null=True, blank=True, related_name="residents",
                              verbose_name=_("house"))
    registered_here = models.BooleanField(_("registered here (户籍)"), default=True)
    living_here = models.BooleanField(_("living here (实际居住)"), default=True)
    registered_address = models.CharField(_("registered address"), max_length=300, blank=True)
    actual_address = models.CharField(_("actual address"), max_length=300, blank=True)
    moved_in_date = models.DateField(_("moved in"), null=True, blank=True)
    moved_out_date = models.DateField(_("moved out"), null=True, blank=True)

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["scheme", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "id_digest"], name="resident_unique_id_number"),
            models.UniqueConstraint(fields=["household"], condition=Q(relation="HEAD", state="ACTIVE"),
                                    name="household_one_head"),
            models.CheckConstraint(condition=Q(household__isnull=True) | ~Q(relation=""),
                                   name="resident_member_has_relation"),
            models.CheckConstraint(condition=Q(moved_out_date__isnull=True) | Q(moved_in_date__isnull=True)
                                   | Q(moved_out_date__gte=models.F("moved_in_date")),
                                   name="resident_moves_in_order"),
        ]
        indexes = [
            models.Index(fields=["node", "state"], name="resident_node_idx"),
            models.Index(fields=["phone_digest"], name="resident_phone_idx"),
        ]
        permissions = [
            ("reveal_personal_data", _("Can reveal personal data anywhere in their territory")),
            ("erase_personal_data", _("Can erase a base-data record on a personal-information request")),
        ]

    def __str__(self) -> str:
        # masked: __str__ ends up in admin messages, logs and audit summaries
        from gridgov.privacy.masking import mask_name

        return f"{mask_name(self.name)} {self.id_masked}"


class LegalEntity(BaseRecord):
    """A legal entity (单位): a company, shop, school, organisation, identified by its unified social
    credit code. Where the deployment gives entities that bear their own duty a dedicated unit or grid
    (专属网格 / 专属单元), `dedicated_node` is that cell."""

    name = models.CharField(_("name"), max_length=200, validators=[validate_name])
    credit_code = models.CharField(_("unified social credit code"), max_length=18)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    representative = models.CharField(_("legal representative"), max_length=100, blank=True,
                                      validators=[validate_name])
    phone_sealed = models.TextField(_("contact phone (sealed)"), blank=True, editable=False)
    phone_digest = models.CharField(_("contact phone digest"), max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("contact phone"), max_length=20, blank=True, editable=False)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    dedicated_node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+", verbose_name=_("dedicated unit / grid"))

    class Meta:
        verbose_name = _("legal entity")
        verbose_name_plural = _("legal entities")
        ordering = ["scheme", "name"]
        constraints = [models.UniqueConstraint(fields=["scheme", "credit_code"], name="entity_unique_credit_code")]
        indexes = [models.Index(fields=["node", "state"], name="entity_node_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.credit_code})"


class SpecialGroup(models.Model):
    """A kind of resident who needs attention (重点人群 / 特殊人群): elderly living alone, disabled, ...

    `fields` declares the group's own attributes: a list of
    ``{"key": "level", "label_zh": "残疾等级", "label_en": "Disability grade", "type": "choice",
    "choices": ["1", "2", "3", "4"], "required": true}`` (types: text, int, date, choice, bool)."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50, blank=True)
    fields = models.JSONField(_("attributes"), default=list, blank=True)
    sensitive = models.BooleanField(_("sensitive"), default=False,
                                    help_text=_("Membership itself is personal data (e.g. key persons): names of "
                                                "members are shown only to users who may reveal"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("special group")
        verbose_name_plural = _("special groups")
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return self.name_zh

    @property
    def name(self) -> str:
        return localized(self)


class GroupMembership(models.Model):
    """A resident tagged with a special group, from a date, with the group's attributes."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="groups", verbose_name=_("resident"))
    group = models.ForeignKey(SpecialGroup, on_delete=models.PROTECT, related_name="memberships",
                              verbose_name=_("special group"))
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    start_date = models.DateField(_("since"))
    end_date = models.DateField(_("until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("special-group membership")
        verbose_name_plural = _("special-group memberships")
        constraints = [
            models.UniqueConstraint(fields=["resident", "group"], condition=Q(end_date__isnull=True),
                                    name="membership_one_open"),
            models.CheckConstraint(condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                                   name="membership_dates_in_order"),
        ]

    def __str__(self) -> str:
        return f"{self.group.key} #{self.resident_id}"


class PartyMember(models.Model):
    """A Communist Party member living in the territory, in the party branch of a grid (党支部建在网格上);
    may be a serving member registering at home (双报到) and is paired with households (包户)."""

    resident = models.OneToOneField(Resident, on_delete=models.CASCADE, related_name="party_member",
                                    verbose_name=_("resident"))
    branch_node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("party branch (cell)"))
    joined_date = models.DateField(_("joined the party"), null=True, blank=True)
    work_unit = models.CharField(_("workplace"), max_length=200, blank=True,
                                 help_text=_("For serving members registered at home (双报到)"))
    start_date = models.DateField(_("registered with the branch since"))
    end_date = models.DateField(_("left"), null=True, blank=True)

    class Meta:
        verbose_name = _("party member")
        verbose_name_plural = _("party members")

    def __str__(self) -> str:
        return f"party member #{self.resident_id}"


class HouseholdPairing(models.Model):
    """A party member in charge of keeping in touch with a household (党员包户)."""

    member = models.ForeignKey(PartyMember, on_delete=models.CASCADE, related_name="pairings",
                               verbose_name=_("party member"))
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="pairings",
                                  verbose_name=_("household"))
    start_date = models.DateField(_("since"))
    end_date = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("household pairing")
        verbose_name_plural = _("household pairings")
        constraints = [models.UniqueConstraint(fields=["member", "household"], condition=Q(end_date__isnull=True),
                                               name="pairing_one_open")]

    def __str__(self) -> str:
        return f"#{self.member_id} → {self.household_id}"


class Volunteer(models.Model):
    """A resident registered as a volunteer in a cell, with skills (later: hours and points)."""

    resident = models.OneToOneField(Resident, on_delete=models.CASCADE, related_name="volunteer",
                                    verbose_name=_("resident"))
    node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("cell"))
    skills = models.CharField(_("skills"), max_length=300, blank=True)
    start_date = models.DateField(_("registered"))
    end_date = models.DateField(_("left"), null=True, blank=True)

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")

    def __str__(self) -> str:
        return f"volunteer #{self.resident_id}"


class HistoryAction(models.TextChoices):
    CREATE = "CREATE", _("Created")
    UPDATE = "UPDATE", _("Changed")
    STATE = "STATE", _("State changed")
    ERASE = "ERASE", _("Erased (PIPL request)")


class RecordHistory(models.Model):
    """Append-only: one row per write of a base-data record, with the record's state after it.

    `snapshot` holds the record's fields after the write as stored (sealed values stay sealed, never
    clear text); `changed` lists the fields the write changed. The state of a record on a past date is
    the snapshot of its last history row written before the end of that date. An erasure blanks the
    snapshots of the erased record and appends an ERASE row."""

    record_type = models.CharField(_("record type"), max_length=40)
    record_id = models.BigIntegerField(_("record id"))
    version = models.PositiveIntegerField(_("version"))
    action = models.CharField(_("action"), max_length=10, choices=HistoryAction.choices)
    at = models.DateTimeField(_("at"), db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("by"))
    source = models.CharField(_("source"), max_length=60, blank=True,
                              help_text=_("Where the change came from: a form, the API, import job #n"))
    changed = models.JSONField(_("changed fields"), default=list, blank=True)
    snapshot = models.JSONField(_("state after"), default=dict, blank=True)

    class Meta:
        verbose_name = _("record history")
        verbose_name_plural = _("record history")
        ordering = ["record_type", "record_id", "version"]
        constraints = [models.UniqueConstraint(fields=["record_type", "record_id", "version"],
                                               name="history_unique_version")]

    def __str__(self) -> str:
        return f"{self.record_type}#{self.record_id} v{self.version} {self.action}"


class JobKind(models.TextChoices):
    IMPORT = "IMPORT", _("Import")
    EXPORT = "EXPORT", _("Export")


class JobStatus(models.TextChoices):
    NEW = "NEW", _("Uploaded")
    MAPPED = "MAPPED", _("Columns mapped")
    CHECKING = "CHECKING", _("Dry run running")
    CHECKED = "CHECKED", _("Dry run done")
    QUEUED = "QUEUED", _("Queued")
    RUNNING = "RUNNING", _("Running")
    DONE = "DONE", _("Done")
    FAILED = "FAILED", _("Failed")


class DataJob(models.Model):
    """A spreadsheet import or a list export, run in the background with progress.

    Files live under PRIVATE_FILES_DIR (never served statically) and are downloadable only by the
    job's owner; they are removed after PRIVATE_FILES_DAYS. `mapping` maps the file's column headers
    to field names; `summary` holds counts (created / updated / unchanged / rejected per kind) and, for
    exports, the filters; neither holds personal data.

    A running job proves it is alive through `heartbeat_at`, written when it is queued, when it starts and
    after every chunk; `attempts` counts its starts. `sweep.jobs_sweep` re-queues an import whose heartbeat
    is older than PEOPLE_JOB_STALE_SECONDS (its chunks are idempotent upserts) until it has had
    PEOPLE_JOB_MAX_ATTEMPTS starts, then fails it, and fails a stale export."""

    kind = models.CharField(_("kind"), max_length=8, choices=JobKind.choices)
    record_type = models.CharField(_("records"), max_length=40)
    scheme = models.ForeignKey("territory.LevelScheme", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("level scheme"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("owner"))
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.NEW)
    file_name = models.CharField(_("file name"), max_length=200, blank=True)
    file_path = models.CharField(_("stored file"), max_length=300, blank=True, editable=False)
    result_path = models.CharField(_("result file"), max_length=300, blank=True, editable=False,
                                   help_text=_("Rejected rows of an import, the file of an export"))
    headers = models.JSONField(_("headers"), default=list, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    total = models.PositiveIntegerField(_("rows"), default=0)
    done = models.PositiveIntegerField(_("rows done"), default=0)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("starts"), default=0, editable=False)

    class Meta:
        verbose_name = _("data job")
        verbose_name_plural = _("data jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.record_type} #{self.pk}"

    @property
    def progress(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.status == JobStatus.DONE else 0)
