"""``python -m memberkit upload``: one job per file however often it runs, retries, reports, exit codes.

The platform is played by ``FakePlatform``: the upload contract of
``sharing/api/uploads.py`` (202 and a job to poll, idempotency keys, problem
documents, the error report) in memory, on a real socket in a thread. No
Django and no database, so the suite stays fast; one test hands the body to
Django's own multipart parser, the one the real platform reads it with.
"""

import csv
import hashlib
import io
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from memberkit import api, cli, jobs, session
from tests.memberkit.serving import JsonHandler, problem, serve

API_KEY = "rsk_live_Qx7.s3cr3t-value"
TOKEN = "ab" * 32
REQUIRED = {
    "flags": ("reference", "id_type", "token", "category", "event_date"),
    "loans": ("reference", "id_type", "token", "product", "opened_on", "amount_band", "consent_reference"),
}
FLAGS = (
    "reference,id_type,token,category,event_date,notice_date,notice_channel\r\n"
    f"L0001,cnid,{TOKEN},overdue_90,2024-01-05,2023-12-20,sms\r\n"
    f"L0002,cnid,{TOKEN},identity_theft,2024-02-01,,\r\n"
    "L0003,cnid,not-a-token,overdue_30,2024-03-01,2024-02-20,letter\r\n"
)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def parts(self) -> dict[str, EmailMessage]:
        """The multipart form, read by the standard library's parser (not the client's own code)."""
        head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + self.body)
        assert isinstance(message, EmailMessage)
        parts: dict[str, EmailMessage] = {}
        for part in message.iter_parts():
            assert isinstance(part, EmailMessage)
            parts[str(part.get_param("name", header="content-disposition"))] = part
        return parts


@dataclass
class Scripted:
    """An answer given instead of the contract's, to the next request of ``method``."""

    method: str
    status: int
    code: str = "unavailable"
    headers: dict[str, str] = field(default_factory=dict)
    drop_after_acting: bool = False  # act, then close the connection without answering


@dataclass
class FakePlatform:
    """The upload endpoints, in memory. Jobs run on their own: each poll moves one a step forward."""

    url: str = ""
    rejected: int = 0
    superseded: int = 0
    warnings: int = 0  # shared_token lines in the report, which the job does not count
    fail_jobs: bool = False
    link_origin: str | None = None  # the origin the links name; None: this server's own
    requests: list[Seen] = field(default_factory=list)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, tuple[tuple[str, int, str, str], dict[str, Any]]] = field(default_factory=dict)
    script: list[Scripted] = field(default_factory=list)
    polls: dict[int, int] = field(default_factory=dict)

    def posts(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.method == "POST"]

    def link(self, path: str) -> str:
        return (self.link_origin or self.url) + path

    def create(self, seen: Seen) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = seen.parts()
        if "file" not in parts:
            return self.problem(400, "validation_error", "No file was sent.", [("file", "required", "Required.")])
        file = parts["file"]
        name = file.get_filename() or ""
        data = file.get_payload(decode=True)
        assert isinstance(data, bytes)
        given = parts["format"].get_content().strip() if "format" in parts else ""
        kind = parts["kind"].get_content().strip() if "kind" in parts else "flags"
        if kind not in REQUIRED:
            return self.problem(400, "validation_error", "Not a kind.", [("kind", "invalid_choice", "")])
        file_format = given or ("csv" if name.endswith(".csv") else "jsonl" if name.endswith(".jsonl") else "")
        if not file_format:
            return self.problem(400, "validation_error", "Name the format: csv or jsonl.", [("format", "required", "")])
        if file_format == "csv":
            header = data.split(b"\n", 1)[0].decode("utf-8-sig").strip().split(",")
            missing = [("columns." + name, "missing_column", "The column is required.") for name in REQUIRED[kind]]
            missing = [error for error in missing if error[0].removeprefix("columns.") not in header]
            if missing:
                detail = missing[0][2] if len(missing) == 1 else f"The request has {len(missing)} invalid value(s)."
                return self.problem(400, "validation_error", detail, missing)
        key = seen.headers.get("idempotency-key")
        fingerprint = (name, len(data), file_format, kind)
        if key in self.keys:
            stored_fingerprint, stored = self.keys[key]
            if stored_fingerprint != fingerprint:
                return self.problem(422, "idempotency_key_reused", "This Idempotency-Key was used for another request.")
            return 202, stored, {"Idempotent-Replayed": "true", "Location": stored["links"]["self"]}
        number = len(self.jobs) + 1
        rows = data.count(b"\n") - (1 if file_format == "csv" else 0)
        job = {
            "id": number,
            "kind": kind,
            "file_name": name,
            "file_format": file_format,
            "size_bytes": len(data),
            "status": "queued",
            "rows_total": None,
            "rows_done": 0,
            "created_count": 0,
            "updated_count": 0,
            "superseded_count": 0,
            "rejected_count": 0,
            "error_code": "",
            "error": "",
            "created_at": "2024-06-01T10:00:00Z",
            "started_at": None,
            "finished_at": None,
            "links": {
                "self": self.link(f"/api/v1/uploads/{number}"),
                "errors": self.link(f"/api/v1/uploads/{number}/errors"),
            },
            "_rows": rows,
        }
        self.jobs[number] = job
        answer = public(job)
        if key is not None:
            self.keys[key] = (fingerprint, answer)
        return 202, answer, {"Location": answer["links"]["self"]}

    def poll(self, number: int) -> dict[str, Any]:
        job = self.jobs[number]
        self.polls[number] = self.polls.get(number, 0) + 1
        rows = job["_rows"]
        if self.polls[number] == 1:
            job.update(status="running", rows_total=rows, rows_done=rows // 2, created_count=rows // 2)
        elif self.fail_jobs:
            job.update(status="failed", rows_total=None, error_code="not_utf8", error="Line 3 is not UTF-8 text.")
        else:
            job.update(
                status="succeeded",
                rows_done=rows,
                created_count=rows - self.rejected - self.superseded,
                superseded_count=self.superseded,
                rejected_count=self.rejected,
            )
        return public(job)

    def report(self, number: int) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["row", "field", "code", "message"])
        for row in range(self.rejected):
            writer.writerow([row + 4, "token", "bad_token", "A member token is 64 lowercase hexadecimal characters."])
        for row in range(self.superseded):
            writer.writerow([row + 2, "reference", "superseded", "A later row of the file has this reference."])
        for row in range(self.warnings):
            writer.writerow([row + 3, "identifiers", "shared_token", "Shares a token with another of your records."])
        return out.getvalue().encode()

    @staticmethod
    def problem(
        status: int, code: str, detail: str, errors: list[tuple[str, str, str]] | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        return problem(status, code, detail, errors, request_id="req-42")


def public(job: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in job.items() if not name.startswith("_")}


def handler_for(platform: FakePlatform) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            self.handle_request("GET")

        def do_POST(self) -> None:
            self.handle_request("POST")

        def handle_request(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen = Seen(method, self.path, {name.lower(): value for name, value in self.headers.items()}, body)
            platform.requests.append(seen)
            if self.headers.get("Authorization") != f"Api-Key {API_KEY}":
                self.answer(*platform.problem(401, "not_authenticated", "Invalid API key."))
                return
            accept = self.headers.get("Accept", "")
            if "*/*" not in accept and "application/json" not in accept:  # DRF negotiates among JSON renderers
                self.answer(*platform.problem(406, "not_acceptable", "Could not satisfy the Accept header."))
                return
            scripted = next((entry for entry in platform.script if entry.method == method), None)
            if scripted is not None:
                platform.script.remove(scripted)
                if scripted.drop_after_acting:
                    platform.create(seen)
                    self.close_connection = True
                    return
                status, problem, _ = platform.problem(scripted.status, scripted.code, "Try again later.")
                self.answer(status, problem, scripted.headers)
                return
            path = self.path.rstrip("/").split("/")
            if method == "POST" and self.path == "/api/v1/uploads":
                self.answer(*platform.create(seen))
            elif method == "GET" and path[:4] == ["", "api", "v1", "uploads"] and len(path) == 5:
                self.answer(200, platform.poll(int(path[4])), {})
            elif method == "GET" and len(path) == 6 and path[5] == "errors":
                data = platform.report(int(path[4]))
                self.send_response(200)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            else:
                self.answer(*platform.problem(404, "not_found", "Not found."))

    return Handler


def serving(fake: FakePlatform, tls: ssl.SSLContext | None = None) -> AbstractContextManager[FakePlatform]:
    return serve(fake, handler_for(fake), tls)


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    with serving(FakePlatform()) as fake:
        yield fake


def own_authority(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A private CA (its certificate written to a file) and a server context whose certificate it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
        )
        if subject == issuer:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        else:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Test member CA", ca_key, "Test member CA", ca_key)
    server = certificate("127.0.0.1", server_key, "Test member CA", ca_key)
    ca_file = directory / "member-ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(
        server.public_bytes(serialization.Encoding.PEM)
        + server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.pem")
    return ca_file, context


@pytest.fixture
def flags(tmp_path: Path) -> Path:
    path = tmp_path / "flags.csv"
    path.write_bytes(FLAGS.encode())
    return path


@pytest.fixture(autouse=True)
def key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(session.KEY_VARIABLE, API_KEY)


def upload(platform: FakePlatform, file: Path, *arguments: str) -> int:
    return cli.main(["upload", str(file), "--url", platform.url, "--poll-seconds", "0", "--quiet", *arguments])


def test_uploads_the_file_and_follows_the_job_until_it_succeeds(platform, flags, naps, capsys):
    exit_code = upload(platform, flags)

    out, err = capsys.readouterr()
    assert exit_code == 0, err
    assert out == "upload 1 succeeded: 3 rows: 3 created, 0 updated, 0 superseded, 0 rejected\n"
    assert [(seen.method, seen.path) for seen in platform.requests] == [
        ("POST", "/api/v1/uploads"),
        ("GET", "/api/v1/uploads/1"),
        ("GET", "/api/v1/uploads/1"),
        ("GET", "/api/v1/uploads/1/errors"),  # the job counts no warnings: only its report tells
    ]
    assert not (flags.parent / "flags.csv.upload-errors.csv").exists()  # it had no line


def test_the_body_holds_the_exact_file_and_the_same_file_sends_the_same_key(platform, tmp_path, naps, capsys):
    flags = tmp_path / "flags.csv"
    content = FLAGS.encode() + f"L0004,cnid,{TOKEN},fraud_suspected,2024-04-01,2024-03-30,app\n".encode()
    flags.write_bytes(content)

    first, second = upload(platform, flags), upload(platform, flags)

    assert (first, second) == (0, 0)
    one, two = platform.posts()
    expected_key = "upload-sha256-" + hashlib.sha256(content).hexdigest()
    assert one.headers["idempotency-key"] == two.headers["idempotency-key"] == expected_key
    assert int(one.headers["content-length"]) == len(one.body)
    file = one.parts()["file"]
    assert file.get_filename() == "flags.csv"
    assert file.get_payload(decode=True) == content
    assert one.parts()["format"].get_content().strip() == "csv"
    assert len(platform.jobs) == 1  # the second run followed the first job
    assert "this file was sent before: following upload 1" in capsys.readouterr().err


def test_a_run_interrupted_while_polling_is_resumed_by_running_it_again(platform, flags, naps, capsys):
    platform.script = [Scripted("GET", 503) for _ in range(api.ATTEMPTS)]

    assert upload(platform, flags) == 2
    err = capsys.readouterr().err
    assert "gave up after 6 attempts" in err
    assert "upload 1 was accepted: run the same command again to follow it" in err

    assert upload(platform, flags) == 0
    assert len(platform.jobs) == 1
    assert "upload 1 succeeded" in capsys.readouterr().out


def test_an_answer_lost_after_the_platform_acted_is_replayed_not_uploaded_twice(platform, flags, naps):
    platform.script = [Scripted("POST", 0, drop_after_acting=True)]

    assert upload(platform, flags) == 0

    assert len(platform.posts()) == 2
    assert len(platform.jobs) == 1


def test_a_503_is_retried_with_backoff(platform, flags, naps, capsys):
    platform.script = [Scripted("POST", 503), Scripted("POST", 503)]

    assert upload(platform, flags) == 0

    assert len(platform.posts()) == 3
    first, second = naps[:2]
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0
    assert "HTTP 503 unavailable: Try again later. (retrying in 1 s: attempt 2 of 6)" in capsys.readouterr().err


def test_a_429_waits_as_long_as_retry_after_says(platform, flags, naps):
    platform.script = [Scripted("POST", 429, code="throttled", headers={"Retry-After": "7"})]

    assert upload(platform, flags) == 0

    assert naps[0] == 7.0
    assert len(platform.posts()) == 2


def test_an_idempotency_key_in_flight_is_retried(platform, flags, naps):
    platform.script = [Scripted("POST", 409, code="idempotency_key_in_flight")]

    assert upload(platform, flags) == 0

    assert len(platform.posts()) == 2


def test_the_client_gives_up_after_a_bounded_number_of_attempts(platform, flags, naps, capsys):
    platform.script = [Scripted("POST", 502) for _ in range(10)]

    assert upload(platform, flags) == 2

    assert len(platform.posts()) == api.ATTEMPTS
    assert len(naps) == api.ATTEMPTS - 1
    assert "error: HTTP 502 unavailable: gave up after 6 attempts: Try again later." in capsys.readouterr().err


def test_a_validation_problem_prints_each_field_error_and_is_not_retried(platform, tmp_path, naps, capsys):
    flags = tmp_path / "flags.csv"
    flags.write_text("reference,id_type,category\nL1,cnid,overdue_30\n")

    assert upload(platform, flags) == 2

    err = capsys.readouterr().err
    assert "error: HTTP 400 validation_error: The request has 2 invalid value(s)." in err
    assert "  columns.token: The column is required. (missing_column)" in err
    assert "  columns.event_date: The column is required. (missing_column)" in err
    assert "request id: req-42" in err
    assert len(platform.posts()) == 1
    assert naps == []


def test_rejected_rows_download_the_error_report_and_exit_1(platform, flags, naps, capsys):
    platform.rejected, platform.superseded = 1, 1

    exit_code = upload(platform, flags)

    report = flags.with_name("flags.csv.upload-errors.csv")
    assert exit_code == 1
    assert capsys.readouterr().out == (
        f"upload 1 succeeded: 3 rows: 1 created, 0 updated, 1 superseded, 1 rejected (see {report})\n"
    )
    assert report.read_bytes() == platform.report(1)
    assert not report.with_name(report.name + ".part").exists()


def test_superseded_rows_alone_fetch_the_report_to_errors_and_exit_0(platform, flags, tmp_path, naps):
    platform.superseded = 2

    assert upload(platform, flags, "--errors", str(tmp_path / "report.csv")) == 0

    assert (tmp_path / "report.csv").read_text().splitlines()[0] == "row,field,code,message"


def test_a_failed_job_exits_2_with_its_reason(platform, flags, naps, capsys):
    platform.fail_jobs = True

    assert upload(platform, flags) == 2

    assert "error: upload 1 failed: Line 3 is not UTF-8 text. (not_utf8)" in capsys.readouterr().err


def test_the_api_key_from_the_environment_is_sent_and_never_printed(platform, flags, naps, capsys):
    assert cli.main(["upload", str(flags), "--url", platform.url, "--poll-seconds", "0"]) == 0

    out, err = capsys.readouterr()
    assert {seen.headers["authorization"] for seen in platform.requests} == {f"Api-Key {API_KEY}"}
    assert API_KEY not in out + err
    assert "100.0%" in err  # the progress bars, without --quiet


def test_a_key_file_wins_over_the_environment_and_a_refused_key_is_not_printed(platform, flags, tmp_path, capsys):
    key_file = tmp_path / "api.key"
    key_file.write_text("  rsk_wrong_key\n")

    assert upload(platform, flags, "--api-key-file", str(key_file)) == 2

    out, err = capsys.readouterr()
    assert platform.requests[0].headers["authorization"] == "Api-Key rsk_wrong_key"
    assert "HTTP 401 not_authenticated: Invalid API key." in err
    assert "rsk_wrong_key" not in out + err
    assert len(platform.requests) == 1


def test_no_api_key_is_refused_before_anything_is_sent(platform, flags, monkeypatch, capsys):
    monkeypatch.delenv(session.KEY_VARIABLE)

    assert upload(platform, flags) == 2

    assert "no API key" in capsys.readouterr().err
    assert platform.requests == []


def test_a_file_of_unknown_format_needs_format(platform, tmp_path, naps, capsys):
    export = tmp_path / "flags.txt"
    export.write_bytes(FLAGS.encode())

    assert upload(platform, export) == 2
    assert "--format" in capsys.readouterr().err
    assert platform.requests == []

    assert upload(platform, export, "--format", "csv") == 0
    assert platform.posts()[0].parts()["format"].get_content().strip() == "csv"


def test_links_are_followed_on_the_origin_of_url_only(platform, flags, naps):
    platform.link_origin = "http://riskshare.internal:8000"  # a proxy that reports its upstream

    assert upload(platform, flags) == 0

    assert [seen.path for seen in platform.requests[1:]] == [
        "/api/v1/uploads/1",
        "/api/v1/uploads/1",
        "/api/v1/uploads/1/errors",
    ]


def test_a_server_that_cannot_be_reached_is_retried_then_reported(flags, naps, capsys):
    unused = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{unused.server_address[1]}"
    unused.server_close()  # nothing listens there any more

    assert cli.main(["upload", str(flags), "--url", url, "--quiet"]) == 2

    assert "could not reach the platform" in capsys.readouterr().err
    assert len(naps) == api.ATTEMPTS - 1


def test_https_verifies_the_certificate_and_ca_file_adds_an_authority(flags, tmp_path, naps, capsys):
    ca_file, tls = own_authority(tmp_path)
    with serving(FakePlatform(), tls) as fake:
        refused = cli.main(["upload", str(flags), "--url", fake.url, "--quiet"])
        refused_err = capsys.readouterr().err
        trusted = cli.main(["upload", str(flags), "--url", fake.url, "--quiet", "--ca-file", str(ca_file)])

    assert refused == 2
    assert "certificate is not trusted" in refused_err
    assert "--ca-file" in refused_err
    assert trusted == 0
    assert len(fake.jobs) == 1  # nothing reached the platform over the untrusted connection
    assert "retrying" not in refused_err  # an untrusted certificate will not become trusted by waiting


def test_django_reads_the_body_as_the_platform_will(tmp_path):
    """The one test that involves Django: its multipart parser is what the real platform reads with."""
    from django.core.files.uploadedfile import UploadedFile
    from django.core.files.uploadhandler import TemporaryFileUploadHandler
    from django.http.multipartparser import MultiPartParser

    path = tmp_path / "首贷 flags.csv"
    content = FLAGS.encode() + b"\n\r\n--not-a-boundary\r\n"
    path.write_bytes(content)
    body = jobs.Multipart(path, {"format": "csv"}, lambda done, length: None)
    data = b"".join(body.chunks())
    meta = {"CONTENT_TYPE": body.content_type, "CONTENT_LENGTH": str(body.length)}

    form, files = MultiPartParser(meta, io.BytesIO(data), [TemporaryFileUploadHandler()], "utf-8").parse()

    assert len(data) == body.length
    assert form["format"] == "csv"
    [uploaded] = files.getlist("file")
    assert isinstance(uploaded, UploadedFile)
    assert uploaded.name == "首贷 flags.csv"
    assert uploaded.read() == content


def test_a_file_that_changes_while_it_is_sent_is_refused(tmp_path):
    path = tmp_path / "flags.csv"
    path.write_bytes(FLAGS.encode())
    body = jobs.Multipart(path, {}, lambda done, length: None)
    chunks = body.chunks()
    next(chunks)  # the parts before the file
    path.write_bytes(FLAGS.encode()[:10])

    with pytest.raises(jobs.FileChanged, match="changed while it was being sent"):
        list(chunks)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (None, None),
        ("soon", None),
        ("99999", api.RETRY_AFTER_CAP_SECONDS),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
    ],
)
def test_retry_after_reads_seconds_and_dates(value, seconds):
    assert api.retry_after(value) == seconds


LOANS = (
    "reference,id_type,token,product,opened_on,amount_band,consent_reference,closed_on,id_type_2,token_2\r\n"
    f"LN-1,cnid,{TOKEN},cash_loan,2026-01-05,10k_50k,AUTH-2026-001,,mobile,{'cd' * 32}\r\n"
    f"LN-2,cnid,{TOKEN},credit_card,2025-03-01,lt_10k,AUTH-2025-417,2026-02-01,,\r\n"
)


@pytest.fixture
def loans(tmp_path: Path) -> Path:
    path = tmp_path / "loans.csv"
    path.write_bytes(LOANS.encode())
    return path


def test_a_file_of_loans_is_sent_with_its_kind_under_a_key_of_its_own(platform, loans, naps, capsys):
    exit_code = upload(platform, loans, "--kind", "loans")

    out = capsys.readouterr().out
    assert exit_code == 0
    assert out == "upload of loans 1 succeeded: 2 rows: 2 created, 0 updated, 0 superseded, 0 rejected\n"
    [sent] = platform.posts()
    assert sent.parts()["kind"].get_content().strip() == "loans"
    assert sent.parts()["file"].get_payload(decode=True) == LOANS.encode()
    assert sent.headers["idempotency-key"] == "upload-loans-sha256-" + hashlib.sha256(LOANS.encode()).hexdigest()
    assert platform.jobs[1]["kind"] == "loans"


def test_the_same_bytes_sent_as_flags_then_as_loans_are_two_requests(platform, tmp_path, naps):
    both = tmp_path / "both.csv"
    both.write_bytes(LOANS.replace("consent_reference", "consent_reference,category,event_date").encode())

    assert upload(platform, both, "--kind", "loans") == 0
    assert upload(platform, both) == 0  # flags: another key, so not a reused one

    first, second = platform.posts()
    assert first.headers["idempotency-key"] != second.headers["idempotency-key"]
    assert "kind" not in second.parts()  # a file of flags is sent as before kinds existed
    assert len(platform.jobs) == 2


def test_a_loan_file_with_an_identifier_in_a_consent_reference_is_not_sent(platform, tmp_path, naps, capsys):
    loans = tmp_path / "loans.csv"
    loans.write_bytes((LOANS + f"LN-3,cnid,{TOKEN},other,2026-01-05,lt_10k,AUTH 11010519491231002X,,,\r\n").encode())

    assert upload(platform, loans, "--kind", "loans") == 2

    err = capsys.readouterr().err
    assert "1 rows have a consent_reference that is, or holds, a resident identity number" in err
    assert "(rows 4;" in err
    assert "11010519491231002X" not in err
    assert platform.requests == []


def test_shared_token_warnings_keep_the_report_and_are_counted_without_changing_the_exit(platform, flags, naps, capsys):
    platform.warnings = 2

    exit_code = upload(platform, flags)

    report = flags.with_name("flags.csv.upload-errors.csv")
    assert exit_code == 0
    assert capsys.readouterr().out == (
        "upload 1 succeeded: 3 rows: 3 created, 0 updated, 0 superseded, 0 rejected, "
        f"2 stored with a token shared with other records of yours (shared_token) (see {report})\n"
    )
    assert [line.split(",")[2] for line in report.read_text().splitlines()[1:]] == ["shared_token", "shared_token"]
