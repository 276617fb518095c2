"""Email for the outbox: messages built cheaply, sent over a few SMTP
connections at once.

Django's ``EmailMultiAlternatives.message()`` builds a tree of MIME objects
and folds every header through the ``email`` package: about a millisecond
of Python per message, more than the SMTP exchange itself. Every notice has
the same shape (a text and an HTML part, UTF-8), so ``PreparedEmail``
writes that shape directly: the subject is encoded by ``email.header``
(once per text), the parts go as 8-bit UTF-8, and the rest is fixed text. It is still an
``EmailMultiAlternatives``, so every Django mail backend (SMTP, file,
console, the tests' memory) sends it as usual.

An SMTP transaction is four round trips; one connection spends most of its
time waiting for the server. ``send_prepared`` shares a batch among up to
``EMAIL_CONNECTIONS`` connections, each in a thread of its own, and reports
each message's outcome; what to do with an outcome (retry, mark the address
unusable) stays with the caller, in the caller's database connection.
"""

from __future__ import annotations

import base64
import email
import functools
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.header import Header
from email.utils import formatdate

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends import smtp

# A message sent on a connection of its own below this many: threads would
# cost more than they save.
_PER_CONNECTION = 20


def _part(kind: str, content: str, boundary: str) -> str:
    """One text part: 8-bit UTF-8 as Django sends it, which the server
    reads as a few long lines; base64 only when a line is longer than
    SMTP allows (998 bytes)."""
    lines = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if all(len(line.encode()) <= 998 for line in lines):
        encoding, body = "8bit", "\r\n".join(lines) + "\r\n"
    else:
        encoding = "base64"
        body = base64.encodebytes(content.encode()).decode("ascii")
        body = body.replace("\n", "\r\n")
    return (
        f"--{boundary}\r\n"
        f'Content-Type: text/{kind}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n"
        "\r\n" + body
    )


class RawMessage:
    """What ``EmailMessage.message()`` returns, for a message that is
    already bytes. Backends call ``as_bytes``; anything else (a test
    reading a header) is answered by the parsed message."""

    def __init__(self, raw: bytes):
        self.raw = raw  # CRLF line ends, as SMTP sends them
        self._parsed = None

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        if linesep == "\r\n":
            return self.raw
        return self.raw.replace(b"\r\n", linesep.encode())

    def as_string(self, unixfrom: bool = False, linesep: str = "\n") -> str:
        return self.as_bytes(linesep=linesep).decode()

    def __getattr__(self, name):
        if self._parsed is None:
            self._parsed = email.message_from_bytes(self.raw)
        return getattr(self._parsed, name)

    def __getitem__(self, name):
        return self.__getattr__("__getitem__")(name)


# An address that needs neither quoting nor encoding, in a header or in the
# SMTP envelope: most are; the others take Django's way.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


@functools.lru_cache(maxsize=256)
def _encoded_subject(subject: str) -> str:
    # A batch says the same few things: each subject is encoded once.
    return Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")


class PreparedEmail(EmailMultiAlternatives):
    """A notice by email: a text part and an HTML part, UTF-8, with a
    ``Message-ID`` of our own (bounces name it)."""

    def __init__(self, subject: str, text: str, html: str, to: str, message_id: str):
        super().__init__(
            " ".join(subject.split()),
            text,
            to=[to],
            headers={"Message-ID": f"<{message_id}>"},
        )
        self.attach_alternative(html, "text/html")
        self.message_id = message_id
        self.plain = bool(
            _PLAIN_ADDRESS.fullmatch(to) and _PLAIN_ADDRESS.fullmatch(self.from_email)
        )

    def message(self):
        if not self.plain:
            return super().message()
        boundary = "=_" + uuid.uuid4().hex
        head = (
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
            "MIME-Version: 1.0\r\n"
            f"Subject: {_encoded_subject(self.subject)}\r\n"
            f"From: {self.from_email}\r\n"
            f"To: {self.to[0]}\r\n"
            f"Date: {formatdate(localtime=settings.EMAIL_USE_LOCALTIME)}\r\n"
            f"Message-ID: <{self.message_id}>\r\n"
            "\r\n"
        )
        parts = [
            _part("plain", self.body, boundary),
            _part("html", self.alternatives[0][0], boundary),
        ]
        return RawMessage((head + "".join(parts) + f"--{boundary}--\r\n").encode())


class SMTPBackend(smtp.EmailBackend):
    """Django's SMTP backend, sending a prepared message's bytes with its
    plain addresses as they are (Django would parse each address again:
    half a millisecond a message)."""

    def _send(self, email_message):
        if not getattr(email_message, "plain", False):
            return super()._send(email_message)
        self.connection.sendmail(
            email_message.from_email,
            email_message.to,
            email_message.message().as_bytes(linesep="\r\n"),
        )
        return True


def _connection():
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
        return get_connection("notifications.mail.SMTPBackend")
    return get_connection()


def send_prepared(messages: list[PreparedEmail]) -> list[Exception | None]:
    """Send the messages over up to ``EMAIL_CONNECTIONS`` connections at
    once; return, in their order, None for each one the server accepted
    and the exception for each one it did not."""
    if not messages:
        return []
    connections = max(
        1, min(settings.EMAIL_CONNECTIONS, len(messages) // _PER_CONNECTION)
    )
    # Interleaved slices: every connection gets a share of the whole batch.
    slices = [list(range(n, len(messages), connections)) for n in range(connections)]
    outcomes: list[Exception | None] = [None] * len(messages)

    def send_slice(indexes: list[int]) -> None:
        mail = _connection()
        try:
            mail.open()
        except Exception as error:
            for i in indexes:
                outcomes[i] = error
            return
        try:
            for i in indexes:
                try:
                    mail.send_messages([messages[i]])
                except Exception as error:
                    outcomes[i] = error
        finally:
            try:
                mail.close()
            except Exception:  # the server went away: nothing left to close
                pass

    if connections == 1:
        send_slice(slices[0])
    else:
        with ThreadPoolExecutor(connections, thread_name_prefix="smtp") as pool:
            list(pool.map(send_slice, slices))
    return outcomes
