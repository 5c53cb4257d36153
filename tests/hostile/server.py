"""A small loopback HTTP(S) server whose every answer a test scripts: a source that lies, redirects or stalls.

Why our own and not the simulator: the simulator serves docs/sources.md faithfully (faults included); these
tests need a server that honours the contract's shape while misbehaving in ways the simulator never
does (understated totals, cross-origin redirects, hostile values, endless pages, slow drips, bombs).
Every loop in a script is bounded, so a client that stopped listening never keeps a thread alive.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    """A scripted answer: status, headers and body; ``chunks`` (with ``pause``) sends the body slowly."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterator[bytes] | None = None
    pause: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Reply:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                   {"Content-Type": "application/json", **headers})


Script = Callable[[Seen], Reply]


class _Handler(BaseHTTPRequestHandler):
    server: HostileServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        seen = Seen(parts.path, dict(parse_qsl(parts.query)), {k: v for k, v in self.headers.items()})
        self.server.seen.append(seen)
        reply = self.server.script(seen)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        if "Content-Length" not in reply.headers:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            for chunk in reply.chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
                if reply.pause:
                    time.sleep(reply.pause)
        except OSError:
            pass  # the client gave up: exactly what a bounded client does
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Handler)
        self.script = script
        self.seen: list[Seen] = []
        self.scheme = "http"
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def dossier(number: int, district: str = "872", **change: Any) -> dict[str, Any]:
    """A well-formed dossier of docs/sources.md (with the personal fields a real system sends)."""
    return {
        "MaHoSo": f"H87.{district}-231101-{number:05d}", "MaTTHC": "1.001", "TenTTHC": "Đăng ký khai sinh",
        "MaLinhVuc": "HT", "TenLinhVuc": "Hộ tịch", "MaDonVi": district, "KenhThucHien": 2,
        "NgayTiepNhan": "20231101081500", "NgayHenTra": "20231106170000", "NgayKetThucXuLy": None,
        "NgayTra": None, "TrangThaiHoSo": 4, "SoHoaHoSo": True, "SoHoaKetQua": None,
        "LePhi": {"SoTien": 8000, "ThanhToanTrucTuyen": True}, "ChuHoSo": "Nguyễn Văn An",
        "SoDienThoai": "0912345678", "NgayCapNhat": "20231101081500", **change,
    }


def feedback(number: int, district: str = "872", **change: Any) -> dict[str, Any]:
    return {
        "id": f"PA-{number:06d}", "received_at": "2023-11-03T08:15:00+07:00", "channel": "phone",
        "district_code": district, "unit_code": district, "category": "dat_dai", "status": "new",
        "due_at": "2023-11-13T08:15:00+07:00", "answered_at": None, "satisfaction": None,
        "citizen_name": "Trần Thị Bình", "phone": "0987654321", "content": "Nội dung", **change,
    }


def paged(records: list[dict[str, Any]], claim_total: int | None = None,
          claim_pages: int | None = None) -> Script:
    """A dossier listing served page by page as asked, claiming what it is told to about its size."""
    def script(seen: Seen) -> Reply:
        page, size = int(seen.query.get("page", 1)), int(seen.query.get("page_size", 200))
        total = len(records) if claim_total is None else claim_total
        pages = -(-total // size) if claim_pages is None else claim_pages
        return Reply.json({"page": page, "page_size": size, "total": total, "total_pages": pages,
                           "data": records[(page - 1) * size:page * size]})
    return script


class _ProxyHandler(BaseHTTPRequestHandler):
    server: ForwardProxy
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        import http.client

        target = urlsplit(self.path)  # a forward proxy receives the absolute URL
        self.server.seen.append(Seen(self.path, {}, {k: v for k, v in self.headers.items()}))
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        upstream.request("GET", target.path + (f"?{target.query}" if target.query else ""), headers=headers)
        answer = upstream.getresponse()
        body = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        upstream.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ForwardProxy(ThreadingHTTPServer):
    """An HTTP forward proxy on loopback that records what went through it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[Seen] = []
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
