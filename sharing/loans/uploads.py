"""Files of loans: what they hold, for the upload machinery that every kind of file shares.

``LOANS`` is the loans' ``Contribution`` to ``sharing.flags.uploads``: the columns of a loan
file, the checking of its rows (``sharing.loans.checking``, the one definition the REST batch
uses too), and the storing of a chunk (``sharing.loans.storing``). Everything else, the survey,
the chunks and their checkpoints, the report, resuming after a worker dies, is the machinery's,
as for flags. ``POST /api/v1/uploads`` with ``kind=loans`` sends a file here.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.utils import timezone

from sharing.choices import UploadKind
from sharing.flags.reading import Layout
from sharing.flags.storing import Stored
from sharing.flags.uploads import Contribution, Rows
from sharing.keys.tokens import peppers
from sharing.loans.checking import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, Checker
from sharing.loans.storing import Staged, copy_and_merge, stage, upsert_orm
from sharing.models import LoanToken, Upload

LOAN_FILE = Layout("loan file", REQUIRED_COLUMNS, OPTIONAL_COLUMNS)


def _loan_rows(upload: Upload) -> Rows:
    return Rows(Checker(peppers(), timezone.localdate()).check, stage)


def store_chunk(upload: Upload, staged: Sequence[Staged], now: datetime) -> Stored:
    """A chunk of an upload's loans, in the chunk's transaction: COPY and merge on PostgreSQL, else the ORM."""
    if connection.vendor == "postgresql":
        return copy_and_merge(upload.institution, staged, upload, now)
    return upsert_orm(upload.institution, staged, upload, now)


LOANS = Contribution(UploadKind.LOANS, LOAN_FILE, _loan_rows, store_chunk, LoanToken, "loan")
