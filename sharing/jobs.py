"""How a job (an upload, an inspection, a report) ends on an error nobody foresaw.

It fails at once, with the code ``internal_error`` and a message that says how far it got
and what to do (``sharing.messages.stopped_after``), and holds nothing the member sent; the
log says why, by the exception's type and frames only (config/logs.py), under a reference that
the message repeats.

Transient errors are the exception: a lost database or broker connection, a deadlock, a
task cut off at its time limit. The job is left where its last checkpoint put it, and the
broker's redelivery or the stall sweep (``tasks.resume_stalled_uploads``) resumes it
from there, up to ``MAX_ATTEMPTS`` starts, with nothing lost or stored twice; failing it
would make the member send the file again for a fault that was not in it.
"""

import logging
import uuid

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from config.logs import described, scrubbed_traceback

INTERNAL_ERROR = "internal_error"
TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, BrokerError, SoftTimeLimitExceeded)


def log_failure(logger: logging.Logger, what: str, error: BaseException) -> str:
    """Log ``what`` happened (such as "upload 12 stopped") on ``error``, never with the error's message.

    Returns the reference of the log line, for the job's message.
    """
    reference = uuid.uuid4().hex[:12]
    logger.error("%s on %s, reference %s\n%s", what, described(error), reference, scrubbed_traceback(error))
    return reference
