"""Re-seal every ID number and phone under the current key (after a key rotation or a cipher change).

Rotation: put the new key in GRIDGOV_DATA_KEY and the old one in GRIDGOV_DATA_OLD_KEYS, restart, run
this command, then drop the old key. Digests are recomputed too (they are keyed by the current key), so
exact lookups work again as soon as a row is done. Runs in chunks, each in its own transaction; it can
be interrupted and run again (rows already under the current key are skipped)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction
from tqdm import tqdm

from gridgov.people.models import LegalEntity, Resident
from gridgov.privacy import crypto
from gridgov.privacy.access import seal_field

CHUNK = 2000


def _current_kid() -> str:
    return crypto.seal("x", field="probe").split(".")[1]


def _reseal(model, columns: list[tuple[str, str]], *, stdout) -> int:
    kid, alg = _current_kid(), crypto.algorithm()
    prefix = f"{crypto.TOKEN_PREFIX}.{kid}.{alg}."
    rtype = model._meta.model_name
    done, last = 0, 0
    total = model.objects.count()
    with tqdm(total=total, desc=rtype, unit="rows", file=stdout) as bar:
        while True:
            with transaction.atomic():
                rows = list(model.objects.select_for_update().filter(pk__gt=last).order_by("pk")[:CHUNK])
                if not rows:
                    break
                changed = []
                for row in rows:
                    dirty = False
                    for field, stem in columns:
                        token = getattr(row, f"{stem}_sealed")
                        if not token or token.startswith(prefix):
                            continue
                        label = seal_field(rtype, field)
                        clear = crypto.unseal(token, field=label)
                        setattr(row, f"{stem}_sealed", crypto.seal(clear, field=label))
                        setattr(row, f"{stem}_digest", crypto.digest(clear, field=label))
                        dirty = True
                    if dirty:
                        changed.append(row)
                fields = [f"{stem}_{part}" for _f, stem in columns for part in ("sealed", "digest")]
                model.objects.bulk_update(changed, fields)
                done += len(changed)
                last = rows[-1].pk
                bar.update(len(rows))
    return done


class Command(BaseCommand):
    help = "Re-seal ID numbers and phones under the current personal-data key and cipher"

    def handle(self, *args, **options):
        residents = _reseal(Resident, [("id_number", "id"), ("phone", "phone")], stdout=self.stderr)
        entities = _reseal(LegalEntity, [("phone", "phone")], stdout=self.stderr)
        self.stdout.write(f"re-sealed {residents} residents and {entities} units")
