"""The local SMS gateway server: stdlib only, one thread per request."""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from notifications.sms_parts import sms_length

logger = logging.getLogger("notifications.gateway")

E164_RU = re.compile(r"^\+7\d{10}$")


class GatewayState:
    """What the gateway received and how it is told to behave."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[dict] = []  # every accepted submission, in order
        self.by_ref: dict[str, dict] = {}
        self.inbound: list[dict] = []
        self.requests = 0
        # ok | fail | slow | timeout | down
        self.mode = "ok"
        self.delay = 0.0  # seconds, for "slow" (and the hang of "timeout")
        self.fail_next = 0  # fail this many requests, then behave
        self.receipts = True
        self.receipt_status = "delivered"
        self.pending_receipts: list[dict] = []

    def control(self, settings: dict) -> dict:
        with self.lock:
            for key in ("mode", "delay", "fail_next", "receipts", "receipt_status"):
                if key in settings:
                    setattr(self, key, settings[key])
            if settings.get("reset"):
                self.messages.clear()
                self.by_ref.clear()
                self.inbound.clear()
                self.pending_receipts.clear()
                self.requests = 0
            return self.describe()

    def describe(self) -> dict:
        return {
            "mode": self.mode,
            "delay": self.delay,
            "fail_next": self.fail_next,
            "receipts": self.receipts,
            "receipt_status": self.receipt_status,
            "messages": len(self.messages),
            "requests": self.requests,
        }


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        name: str = "local",
        token: str = "local-gateway-token",
        portal_url: str = "",
        receipt_delay: float = 0.5,
        time_zone: str = "Europe/Moscow",
        batch: int = 0,
    ):
        super().__init__((host, port), _Handler)
        self.name = name
        # The message list speaks the portal's time (settings.TIME_ZONE),
        # as the citizen and the demo's narrator do; the API keeps UTC.
        self.time_zone = ZoneInfo(time_zone)
        # Messages a request may carry (0: any number); more get 413, as
        # a gateway that takes one message at a time answers.
        self.batch = batch
        self.token = token
        self.portal_url = portal_url.rstrip("/")
        self.receipt_delay = receipt_delay
        self.state = GatewayState()
        self._thread: threading.Thread | None = None
        self._receipts_thread = threading.Thread(
            target=self._send_receipts, daemon=True
        )
        self._receipts_thread.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    # Running inside another process (tests) ------------------------------

    def start(self) -> GatewayServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def control(self, **settings) -> dict:
        return self.state.control(settings)

    def reply(self, phone: str, text: str) -> dict:
        """A citizen answers: post the reply to the portal, record and
        "send" the portal's answer back to the phone."""
        message = {"id": f"in-{uuid.uuid4().hex[:12]}", "from": phone, "text": text}
        answer = self._post_portal("/notifications/gateway/inbound/", message)
        with self.state.lock:
            self.state.inbound.append({**message, "answer": answer.get("reply", "")})
        if answer.get("reply"):
            self._accept({"ref": "", "to": phone, "text": answer["reply"]})
        return answer

    # Internals -----------------------------------------------------------

    def _accept(self, item: dict) -> dict:
        text = str(item.get("text", ""))
        to = str(item.get("to", ""))
        if not E164_RU.match(to):
            return {
                "ref": item.get("ref"),
                "status": "rejected",
                "error": "invalid_number",
            }
        length = sms_length(text)
        record = {
            "id": f"{self.name}-{uuid.uuid4().hex[:16]}",
            "ref": str(item.get("ref", "")),
            "to": to,
            "text": text,
            "parts": length.parts,
            "encoding": length.encoding,
            "status": "accepted",
            "received_at": datetime.now(UTC).isoformat(),
            "received_monotonic": time.time(),
        }
        with self.state.lock:
            self.state.messages.append(record)
            if record["ref"]:
                self.state.by_ref[record["ref"]] = record
            if self.state.receipts and record["ref"]:
                due = time.monotonic() + self.receipt_delay
                self.state.pending_receipts.append({"due": due, "record": record})
        return {
            "ref": record["ref"],
            "id": record["id"],
            "status": "accepted",
            "parts": record["parts"],
        }

    def _send_receipts(self) -> None:
        while True:
            time.sleep(0.2)
            if not self.portal_url:
                continue
            now = time.monotonic()
            with self.state.lock:
                due = [r for r in self.state.pending_receipts if r["due"] <= now]
                self.state.pending_receipts = [
                    r for r in self.state.pending_receipts if r["due"] > now
                ]
                status = self.state.receipt_status
            for start in range(0, len(due), 1000):
                receipts = []
                for entry in due[start : start + 1000]:
                    record = entry["record"]
                    record["status"] = status
                    receipts.append(
                        {
                            "id": record["id"],
                            "ref": record["ref"],
                            "status": status,
                            "at": datetime.now(UTC).isoformat(),
                        }
                    )
                try:
                    self._post_portal(
                        "/notifications/gateway/receipts/", {"receipts": receipts}
                    )
                except Exception as error:
                    # The portal may be down or starting: try again later,
                    # as a real gateway does.
                    logger.warning("receipts not delivered, retrying: %s", error)
                    with self.state.lock:
                        self.state.pending_receipts.extend(
                            {**entry, "due": time.monotonic() + 5}
                            for entry in due[start : start + 1000]
                        )

    def _post_portal(self, path: str, payload: dict) -> dict:
        request = urllib.request.Request(
            self.portal_url + path,
            data=json.dumps(payload).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")


class _Handler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        logger.debug(format, *args)

    def _send(self, code: int, payload, content_type="application/json") -> None:
        body = (
            payload.encode()
            if isinstance(payload, str)
            else json.dumps(payload, ensure_ascii=False).encode()
        )
        self.send_response(code)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        return json.loads(raw or b"{}")

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.token}":
            return True
        self._send(401, {"error": "bad token"})
        return False

    def do_GET(self):
        url = urlsplit(self.path)
        state = self.server.state
        if url.path == "/api/v1/messages":
            if not self._authorised():
                return
            refs = parse_qs(url.query).get("ref", [])
            with state.lock:
                found = [state.by_ref[r] for r in refs if r in state.by_ref]
            self._send(
                200,
                {
                    "messages": [
                        {"ref": m["ref"], "id": m["id"], "status": m["status"]}
                        for m in found
                    ]
                },
            )
        elif url.path == "/api/v1/log":
            # ?since=N: only the messages after the first N (a bench polls).
            since = parse_qs(url.query).get("since", ["0"])[0]
            since = int(since) if since.isdigit() else 0
            with state.lock:
                self._send(
                    200,
                    {
                        "messages": state.messages[since:],
                        "inbound": list(state.inbound),
                        "state": state.describe(),
                    },
                )
        elif url.path == "/":
            self._send(200, self._page(), "text/html")
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        url = urlsplit(self.path)
        state = self.server.state
        if url.path == "/api/v1/messages":
            self._submit()
        elif url.path == "/control":
            self._send(200, state.control(self._body()))
        elif url.path == "/control/reply":
            data = self._body()
            try:
                answer = self.server.reply(data.get("from", ""), data.get("text", ""))
            except Exception as error:
                self._send(502, {"error": str(error)})
                return
            if "application/json" in self.headers.get("Accept", ""):
                self._send(200, answer)
            else:
                self.send_response(303)
                self.send_header("Location", "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
        else:
            self._send(404, {"error": "not found"})

    def _submit(self) -> None:
        state = self.server.state
        if not self._authorised():
            return
        data = self._body()
        if self.server.batch and len(data.get("messages", [])) > self.server.batch:
            self._send(413, {"error": f"at most {self.server.batch} messages"})
            return
        with state.lock:
            state.requests += 1
            mode, delay = state.mode, float(state.delay)
            failing = mode in ("fail", "down") or state.fail_next > 0
            if state.fail_next > 0:
                state.fail_next -= 1
        if failing:
            self._send(503, {"error": "gateway unavailable"})
            return
        if mode == "slow":
            time.sleep(delay)
        results = [self.server._accept(item) for item in data.get("messages", [])]
        if mode == "timeout":
            # Accepted, but the answer comes too late for the client.
            time.sleep(delay or 30)
        try:
            self._send(200, {"messages": results})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _page(self) -> str:
        state = self.server.state
        with state.lock:
            messages = list(reversed(state.messages[-500:]))
            inbound = list(reversed(state.inbound[-100:]))
            described = state.describe()
        zone = self.server.time_zone

        def local(received_at: str) -> str:
            moment = datetime.fromisoformat(received_at).astimezone(zone)
            return moment.strftime("%d.%m %H:%M:%S")

        offset = datetime.now(zone).strftime("%z")
        zone_label = f"{zone.key}, UTC{offset[:3]}:{offset[3:]}"
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td>"
            "<td>{}</td><td><form method=post action=/control/reply>"
            "<input type=hidden name=from value='{}'>"
            "<input name=text placeholder='ДА 123456' aria-label='Ответ'>"
            "<button>Ответить</button></form></td></tr>".format(
                html.escape(local(m["received_at"])),
                html.escape(m["to"]),
                html.escape(m["text"]),
                html.escape(m["status"]),
                m["parts"],
                m["encoding"],
                html.escape(m["ref"]),
                html.escape(m["to"]),
            )
            for m in messages
        )
        replies = "".join(
            f"<li>{html.escape(i['from'])}: {html.escape(i['text'])} → "
            f"{html.escape(i['answer'])}</li>"
            for i in inbound
        )
        return f"""<!doctype html><html lang=ru><head><meta charset=utf-8>
<title>SMS-шлюз {html.escape(self.server.name)}</title>
<style>body{{font:15px system-ui;margin:16px}}td,th{{border-bottom:1px solid #ccc;
padding:4px 8px;text-align:left}}table{{border-collapse:collapse}}</style></head>
<body><h1>Локальный SMS-шлюз «{html.escape(self.server.name)}»</h1>
<p>Режим: {described["mode"]}; сообщений: {described["messages"]}.
Сообщения вымышлены: шлюз ничего не отправляет операторам.</p>
<table><tr><th>время ({html.escape(zone_label)})</th><th>кому</th><th>текст</th>
<th>состояние</th><th>частей</th><th>ref</th><th>ответ гражданина</th></tr>
{rows}</table>
<h2>Ответы граждан</h2><ul>{replies}</ul></body></html>"""
