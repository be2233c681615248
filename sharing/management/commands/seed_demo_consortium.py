from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from accounts.management.demo import DemoCommand
from sharing.management import demo, history


class Command(DemoCommand):
    help = (
        "Give the demo (seed_demo) a living consortium: three more members, eighteen months of flags, four years "
        "of loans, a month of queries, a portfolio inspected twice and last month's report. Safe to run again; "
        "refused in production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--flags", type=int, default=history.FLAGS, help=f"How many flags the history holds ({history.FLAGS:,})."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["flags"] < 10:
            raise CommandError("--flags: a history needs at least 10 flags.")
        try:
            seeded = demo.seed(options["flags"])
        except demo.MissingCast:
            raise CommandError("run seed_demo first: the demo members do not exist") from None
        key_file = settings.VAR_DIR / "demo-consortium.key"
        if not key_file.exists() or key_file.read_text() != history.DEMO_CONSORTIUM_KEY.hex() + "\n":
            key_file.write_text(history.DEMO_CONSORTIUM_KEY.hex() + "\n")
        write = self.stdout.write
        write("Demo consortium" + ("" if seeded.written else " (there already; nothing written)") + ":")
        for member in seeded.members:
            write(f"  {member.name_en} ({member.get_sector_display()})")
        write(f"  {seeded.flags:,} flags over eighteen months, {seeded.queries:,} queries in the last month")
        write(f"  {seeded.loans:,} loans reported over four years, some borrowers at three or more members")
        if seeded.inspection is not None:
            inspection = seeded.inspection
            write(
                f"  inspection of {inspection.portfolio!r}: {inspection.hits_count} borrowers hit, "
                f"{inspection.new_hits_count} of them new since the one before"
            )
        if seeded.report is not None:
            write(f"  the report of {seeded.report.starts_on:%Y-%m}: {seeded.report.get_status_display()}")
        borrower, others = seeded.look_up
        write(
            f"Look up resident ID {borrower.raw} as alpha-analyst (portal: Look up a borrower) "
            f"with the key file {key_file}: {others} other members flagged it."
        )
