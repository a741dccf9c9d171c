"""`manage.py demo_logins`: the demo logins of the loaded seed profiles, with their passwords.

The passwords are printed on purpose: they belong to demo data. Each is random, made when the profile was
loaded; the database holds only its hash, and the clear text is kept in DEMO_LOGINS_FILE (mode 600, under
var/, outside git) only so that it can be printed here. A password is printed only after checking it still
opens the login; one that no longer does (changed, login deleted or deactivated) is dropped from the file."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from gridgov.accounts.security import must_use_two_factors
from gridgov.accounts.selectors import user_is_district_wide
from gridgov.seed.profiles import PROFILES, profile_demo_logins, profile_scheme


class Command(BaseCommand):
    help = "Print the demo logins (username, password, who they stand for, what they see) of the loaded profiles."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", metavar="NAME", help=f"only these profiles ({', '.join(PROFILES)})")

    def handle(self, *args, names: list[str], **options):
        unknown = sorted(set(names) - set(PROFILES))
        if unknown:
            self.stderr.write(f"unknown profiles: {', '.join(unknown)}; known: {', '.join(PROFILES)}")
        loaded = [p for key, p in PROFILES.items() if (not names or key in names) and profile_scheme(p)]
        if not loaded:
            self.stdout.write("No seed profile is loaded. `make run` loads pinggu; "
                              "`manage.py load_profile NAME` loads one of: " + ", ".join(PROFILES) + ".")
            return
        self.stdout.write("Demo logins (demo data: passwords printed on purpose). Log in at /login/ (each login lands on its own workspace; /admin/ for raw edits), or get an "
                          "API token with POST /api/accounts/token.")
        for profile in loaded:
            self.stdout.write("")
            self.stdout.write(self.style.MIGRATE_HEADING(f"{profile.key} — {profile.name_zh}"))
            for state in profile_demo_logins(profile):
                spec = state.spec
                if state.user is None:
                    shown = "(login deleted)"
                elif state.password is None:
                    shown = "(changed since loading, or not kept on this machine: not shown)"
                else:
                    shown = state.password
                self.stdout.write(f"  {spec.username:<20} {shown}")
                self.stdout.write(f"      {spec.what_zh} · {spec.what_en}")
                if state.user is not None and must_use_two_factors(state.user):
                    self.stdout.write("      two factors: sets up an authenticator app (TOTP) at the first login, "
                                      "then types its code after the password")
                if state.user is not None and user_is_district_wide(state.user, profile_scheme(profile).pk):
                    self.stdout.write(f"      sees: the whole territory of {profile.key} (every cell of this scheme)")
                    continue
                by_role: dict = {}
                for role, node in state.scopes:
                    by_role.setdefault(role, []).append(node)
                for role, nodes in by_role.items():
                    cells = ", ".join(f"{n.name} {n.code}" for n in nodes[:3])
                    more = f" and {len(nodes) - 3} more cells" if len(nodes) > 3 else ""
                    self.stdout.write(f"      sees: {cells}{more}, and everything below, as {role.name_zh} "
                                      f"({role.name_en})")
