"""Reading the Wiki labels transcripts (copies of `reference/wikilabels-captures/`).

Two formats. The flows (`*_flow.txt`)::

    ### <title>
    POST /campaigns/enwiki/8/ form={"workset": "stats"} as user 101
    -> 200 OK
    Content-Type: application/json
    {...}

and the route listings (`*_readonly_routes.txt`), written as curl command lines::

    ### <title>
    $ curl -c ./jar_u1 -b ./jar_u1 -X POST -d workset=stats /campaigns/enwiki/7/
    HTTP/1.0 409 CONFLICT
    Content-Type: application/json

    {...}

A cookie jar (`-b ./jar_u1`) stands for the user its `/_test/login/<id>/` call logged in.
Long bodies end in `...[N chars total]` and are kept as truncated text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

#: Copies of the reference transcripts (see the README there).
CAPTURES = Path(__file__).resolve().with_name("wikilabels_captures")
FILES = {
    "head_flow": "head_flow.txt",
    "head_readonly": "head_readonly_routes.txt",
    "pypi040_flow": "pypi040_flow.txt",
    "pypi040_readonly": "pypi040_readonly_routes.txt",
}

_HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$")
_TRUNCATED = re.compile(r"^\.\.\.\[(\d+) chars total\]$")
_FLOW_REQUEST = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>\S+)(?: form=(?P<form>\{.*\}))?"
    r" (?:as user (?P<user>\d+)|\(anonymous\))$"
)
_FLOW_STATUS = re.compile(r"^-> (?P<status>\d{3}) ")
_CURL_STATUS = re.compile(r"^HTTP/1\.[01] (?P<status>\d{3}) ")
_TEST_LOGIN = re.compile(r"^/_test/login/(\d+)/$")
_JSONP = re.compile(r"^(?P<callback>[\w$.]+)\((?P<payload>.*)\);\s*$", re.DOTALL)


@dataclass(frozen=True)
class Exchange:
    """One captured request and the response Wiki labels gave."""

    source: str
    index: int
    title: str
    method: str
    path: str
    form: dict[str, str] | None
    request_headers: dict[str, str]
    #: The user whose session sent the request, or None for an anonymous one.
    user: int | None
    status: int
    headers: dict[str, str]
    body: str
    truncated: bool = False
    #: The `/_test/login/<id>/` call of the route listings (Wiki labels' test-only login).
    test_login: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def media_type(self) -> str:
        """The response's media type, without parameters."""
        return self.headers.get("content-type", "").split(";")[0].strip()

    def json(self) -> Any:
        """The body as JSON, unwrapping JSONP (`cb({...});`)."""
        if self.media_type == "application/javascript":
            found = _JSONP.match(self.body.strip())
            if found is None:
                raise ValueError(f"{self.title}: not a JSONP body")
            return orjson.loads(found["payload"])
        return orjson.loads(self.body)


def load(name: str) -> list[Exchange]:
    """The exchanges of one transcript (a key of FILES), in order."""
    path = CAPTURES / FILES[name]
    text = path.read_text(encoding="utf-8")
    parse = _parse_flow if name.endswith("_flow") else _parse_curl
    sections = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    jars: dict[str, int] = {}
    found = [parse(name, i, s.rstrip("\n").split("\n"), jars) for i, s in enumerate(sections)]
    titles = [e.title for e in found]
    if len(set(titles)) != len(titles):
        raise ValueError(f"{path}: duplicate titles")
    return found


def _response(lines: list[str]) -> tuple[dict[str, str], str, bool]:
    """Headers (lower-cased names) and body of the lines after the status line."""
    headers: dict[str, str] = {}
    rest = list(lines)
    while rest and (match := _HEADER.match(rest[0])) and not rest[0].startswith("{"):
        headers[match[1].lower()] = match[2]
        rest.pop(0)
    while rest and not rest[0].strip():
        rest.pop(0)
    while rest and not rest[-1].strip():
        rest.pop()
    truncated = bool(rest) and _TRUNCATED.match(rest[-1]) is not None
    if truncated:
        rest.pop()
    return headers, "\n".join(rest), truncated


def _parse_flow(source: str, index: int, lines: list[str], _: dict[str, int]) -> Exchange:
    title, request, status, *rest = lines
    asked = _FLOW_REQUEST.match(request)
    answered = _FLOW_STATUS.match(status)
    if asked is None or answered is None:
        raise ValueError(f"{source}: cannot read section {title!r}")
    headers, body, truncated = _response(rest)
    form = orjson.loads(asked["form"]) if asked["form"] else None
    request_headers = {}
    if "access-control-allow-origin" in headers:  # "CORS simple GET with Origin"
        request_headers["Origin"] = headers["access-control-allow-origin"]
    return Exchange(
        source=source,
        index=index,
        title=title,
        method=asked["method"],
        path=asked["path"],
        form=form,
        request_headers=request_headers,
        user=int(asked["user"]) if asked["user"] else None,
        status=int(answered["status"]),
        headers=headers,
        body=body,
        truncated=truncated,
    )


def _curl_words(command: str) -> tuple[str, str, dict[str, str], dict[str, str], str | None]:
    """Method, path, form, headers and cookie jar of an unquoted curl command line."""
    words = command.removeprefix("$ curl ").split(" ")
    method, form, headers, jar = "GET", {}, {}, None
    path = words.pop()
    while words:
        flag = words.pop(0)
        if flag in ("-c", "-b"):
            jar = words.pop(0)
        elif flag == "-X":
            method = words.pop(0)
        elif flag in ("-d", "--data-urlencode"):
            key, _, value = words.pop(0).partition("=")
            form[key] = value
            method = "POST" if method == "GET" else method
        elif flag == "-H":
            name = words.pop(0).rstrip(":")
            headers[name] = words.pop(0)
        else:
            raise ValueError(f"unknown curl flag {flag!r} in {command!r}")
    return method, path, form, headers, jar


def _parse_curl(source: str, index: int, lines: list[str], jars: dict[str, int]) -> Exchange:
    title, command, status, *rest = lines
    answered = _CURL_STATUS.match(status)
    if not command.startswith("$ curl ") or answered is None:
        raise ValueError(f"{source}: cannot read section {title!r}")
    method, path, form, request_headers, jar = _curl_words(command)
    login = _TEST_LOGIN.match(path)
    if login is not None and jar is not None:
        jars[jar] = int(login[1])
    headers, body, truncated = _response(rest)
    return Exchange(
        source=source,
        index=index,
        title=title,
        method=method,
        path=path,
        form=form or None,
        request_headers=request_headers,
        user=jars.get(jar) if jar is not None else None,
        status=int(answered["status"]),
        headers=headers,
        body=body,
        truncated=truncated,
        test_login=int(login[1]) if login is not None else None,
    )
