"""What the API's serializers share: links, the waiting-for-a-worker flag, a posted file's format, a batch's items
and the borrower's identifier fields."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from sharing import heartbeat
from sharing.choices import IDENTIFIERS_MAX, FileFormat, IdType
from sharing.messages import english, message

# A JSON object, or null (details destroyed or never sent; figures not built yet).
OBJECT_OR_NULL = {"type": "object", "additionalProperties": {}, "nullable": True}


class IdentifierSerializer(serializers.Serializer[dict[str, Any]]):
    """One of the borrower's identifiers, as a member token (docs/identifiers.md)."""

    id_type = serializers.ChoiceField(choices=IdType.choices)
    token = serializers.CharField(min_length=64, max_length=64, help_text="The member token: 64 lowercase hex.")


def identifier_fields() -> tuple[serializers.ChoiceField, serializers.CharField, IdentifierSerializer]:
    """The borrower's identifiers in either form (sharing.flags.identifiers), as a flag's and a loan's input
    declare them: ``id_type, token, identifiers = identifier_fields()`` where they stand among its fields."""
    return (
        serializers.ChoiceField(
            choices=IdType.choices, required=False, help_text="The first identifier's type (or give identifiers)."
        ),
        serializers.CharField(
            min_length=64,
            max_length=64,
            required=False,
            help_text="The first identifier's member token; id_type_2/token_2 ... id_type_5/token_5 add others.",
        ),
        IdentifierSerializer(
            many=True,
            required=False,
            help_text=f"Instead of id_type and token: 1 to {IDENTIFIERS_MAX} identifiers, at most one of each type.",
        ),
    )


def batch_items(data: Any, name: str) -> list[Any]:
    """The items of a batch as a member sends it, ``{name: [...]}``: 1 to FLAG_BATCH_MAX JSON objects, each
    checked by the service, not here."""
    if not isinstance(data, dict) or not isinstance(data.get(name), list):
        raise serializers.ValidationError({name: [serializers.ErrorDetail(english("required", name), code="required")]})
    items: list[Any] = data[name]
    if not 1 <= len(items) <= settings.FLAG_BATCH_MAX:
        said = message("batch_size", name, most=f"{settings.FLAG_BATCH_MAX:,}", sent=f"{len(items):,}")
        raise serializers.ValidationError({name: [serializers.ErrorDetail(said, code="batch_size")]})
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            by_index: dict[Any, Any] = {index: [serializers.ErrorDetail(message("invalid", name), code="invalid")]}
            raise serializers.ValidationError({name: by_index})
    return items


def links(context: Mapping[str, Any], routes: dict[str, str], pk: int) -> dict[str, str]:
    """A job's links by name, absolute when the serializer has the request."""
    return absolute(context, {name: reverse(route, args=[pk]) for name, route in routes.items()})


def absolute(context: Mapping[str, Any], paths: dict[str, str]) -> dict[str, str]:
    """Paths by name, made absolute URLs when the serializer has the request."""
    request = context.get("request")
    if request is None:
        return paths
    return {name: request.build_absolute_uri(path) for name, path in paths.items()}


def with_file_format(attrs: dict[str, Any]) -> dict[str, Any]:
    """The format named, or else the one the file's name ends with."""
    if "format" not in attrs:
        name = attrs["file"].name.lower()
        if name.endswith(".csv"):
            attrs["format"] = FileFormat.CSV
        elif name.endswith((".jsonl", ".ndjson")):
            attrs["format"] = FileFormat.JSONL
        else:
            raise serializers.ValidationError(
                {"format": serializers.ErrorDetail(english("required", "format"), code="required")}
            )
    return attrs


WAITING_FOR_WORKER = (
    "True while the job is queued and no worker has recorded its heartbeat lately "
    "(WORKER_HEARTBEAT_STALE_SECONDS): no worker is running, and the job starts when one does."
)


# What every job's fields mean (uploads, inspections, reports), shown by the schema and Swagger UI.
JOB_FIELDS = {
    "status": "queued, running, succeeded or failed; poll links.self until succeeded or failed.",
    "error_code": "Why the job failed, when it did (internal_error: an unexpected error, the message says what to "
    "do; too_many_attempts; for a file job a code that refuses the whole file); empty otherwise.",
    "error": "The failure's message, in English, with its specifics (which line, how far the job got); empty "
    "otherwise.",
    "created_at": "When the job was accepted.",
    "started_at": "When a worker first took it up; null before.",
    "finished_at": "When it succeeded or failed; null before.",
}
FILE_JOB_FIELDS = {
    **JOB_FIELDS,
    "rows_total": "The rows in the file, once the worker has surveyed it; null before.",
    "rows_done": "The rows done so far: the checkpoint, committed with each chunk.",
    "rejected_count": "Rows refused; each has lines in the error report (links.errors).",
}


# The fields that begin a file job's answer, after its own, and those that end every job's answer.
FILE_JOB_START = ["file_name", "file_format", "size_bytes", "status", "rows_total", "rows_done"]
JOB_END = ["error_code", "error", "created_at", "started_at", "finished_at", "waiting_for_worker", "links"]


# What every job (an upload, an inspection, a report) answers besides its own fields: whether it waits
# for a worker, and its links (each kind of job names its own, in ``get_links``). A comment, not a
# docstring: the schema would give it to every job that has no docstring of its own.
class JobSerializer(serializers.ModelSerializer[Any]):
    links = serializers.SerializerMethodField()
    waiting_for_worker = serializers.SerializerMethodField(help_text=WAITING_FOR_WORKER)

    def get_waiting_for_worker(self, job: Any) -> bool:
        return waiting_for_worker(self.context, job.status)


def help_texts(meanings: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """A ModelSerializer's ``extra_kwargs`` that give its fields these meanings."""
    return {name: {"help_text": meaning} for name, meaning in meanings.items()}


def waiting_for_worker(context: Mapping[str, Any], status: str) -> bool:
    """``heartbeat.waiting_for_a_worker``, with the heartbeat read at most once per answer (lists)."""
    if not isinstance(context, dict):
        return heartbeat.waiting_for_a_worker(status)
    answers: dict[str, bool] = context.setdefault("waiting_for_worker", {})
    if status not in answers:
        answers[status] = heartbeat.waiting_for_a_worker(status)
    return answers[status]
