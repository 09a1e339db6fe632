"""A small fake of Slack's Web API over real HTTP: records every call and can answer with errors.

slack_sdk talks to it exactly as to slack.com (base URL `.../api/`), so retries, rate-limit handling
and JSON/form encodings are the SDK's own. `response_url`s point here too.

Every `blocks`, `view`, message `text` and `markdown_text` is checked as Slack would
(`tests/block_kit_rules.py`): a payload Slack refuses is answered with Slack's error and recorded
in `violations`, which the `slack` fixture requires to be empty when the test ends, so an invalid
payload fails the test that sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.block_kit_rules import message_problems, stream_problems, view_problems

BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
# what Slack grants a bot installed from manifest.yml (auth.test lists them in x-oauth-scopes)
INSTALLED_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.customize",
    "chat:write.public",
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "users:read",
    "files:write",
    "im:history",
    "assistant:write",
)


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class Violation:
    method: str
    problems: list[str]


MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
STREAM_METHODS = frozenset({"chat.startStream", "chat.appendStream", "chat.stopStream"})
VIEW_METHODS = frozenset({"views.open", "views.update", "views.push", "views.publish"})
# the agent/assistant thread methods and their required arguments (docs.slack.dev reference:
# assistant.threads.setStatus, setTitle, setSuggestedPrompts)
ASSISTANT_METHODS: dict[str, tuple[str, ...]] = {
    "assistant.threads.setStatus": ("channel_id", "thread_ts", "status"),
    "assistant.threads.setTitle": ("channel_id", "thread_ts", "title"),
    "assistant.threads.setSuggestedPrompts": ("channel_id", "prompts"),
}
MAX_SUGGESTED_PROMPTS = 4


def assistant_problems(method: str, args: dict[str, Any]) -> list[str]:
    problems = [f"{name}: required" for name in ASSISTANT_METHODS[method] if not args.get(name)]
    prompts = args.get("prompts")
    if method.endswith("setSuggestedPrompts") and prompts:
        if not isinstance(prompts, list) or len(prompts) > MAX_SUGGESTED_PROMPTS:
            problems.append(f"prompts: a list of at most {MAX_SUGGESTED_PROMPTS}")
        else:
            for i, prompt in enumerate(prompts):
                if not (
                    isinstance(prompt, dict)
                    and set(prompt) == {"title", "message"}
                    and all(isinstance(v, str) and v for v in prompt.values())
                ):
                    problems.append(f"prompts[{i}]: needs a title and a message")
    return problems


# Streaming chunks (docs.slack.dev "text streaming"; slack_sdk.models.messages.chunk 3.48): the
# four chunk types, their required and optional fields; a task_update's details and output are
# at most 256 characters. Anything else is refused, as Slack refuses an unknown chunk.
CHUNK_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "markdown_text": (frozenset({"text"}), frozenset()),
    "plan_update": (frozenset({"title"}), frozenset()),
    "task_update": (
        frozenset({"id", "title", "status"}),
        frozenset({"details", "output", "sources"}),
    ),
    "blocks": (frozenset({"blocks"}), frozenset()),
}
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
TASK_TEXT = 256
DISPLAY_MODES = frozenset({"timeline", "plan"})


def chunk_problems(method: str, args: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    mode = args.get("task_display_mode")
    if mode is not None and (method != "chat.startStream" or mode not in DISPLAY_MODES):
        problems.append(f"task_display_mode: {mode!r} (startStream only: timeline or plan)")
    chunks = args.get("chunks")
    if chunks is None:
        return problems
    if not isinstance(chunks, list) or not chunks:
        return [*problems, "chunks: a non-empty array"]
    for i, chunk in enumerate(chunks):
        where = f"chunks[{i}]"
        kind = chunk.get("type") if isinstance(chunk, dict) else None
        if not isinstance(chunk, dict) or kind not in CHUNK_FIELDS:
            problems.append(f"{where}: unknown chunk type {kind!r}")
            continue
        required, optional = CHUNK_FIELDS[str(kind)]
        fields = set(chunk) - {"type"}
        problems += [f"{where}.{f}: required" for f in sorted(required - fields)]
        problems += [f"{where}.{f}: unknown field" for f in sorted(fields - required - optional)]
        if kind == "task_update":
            if chunk.get("status") not in TASK_STATUSES:
                problems.append(f"{where}.status: {chunk.get('status')!r}")
            for name in ("details", "output"):
                value = chunk.get(name)
                if value is not None and len(str(value)) > TASK_TEXT:
                    problems.append(f"{where}.{name}: more than {TASK_TEXT} characters")
        if kind == "markdown_text" and not str(chunk.get("text") or ""):
            problems.append(f"{where}.text: empty")
    return problems


def payload_problems(method: str, args: dict[str, Any]) -> list[str]:
    if method in MESSAGE_METHODS or method.startswith("response_url"):
        if args.get("delete_original"):
            return []
        return message_problems(args)
    if method in STREAM_METHODS:
        problems = stream_problems(args) + chunk_problems(method, args)
        if args.get("blocks") is not None:
            problems += message_problems({"blocks": args["blocks"], "text": "-"})
        return problems
    if method in VIEW_METHODS:
        return view_problems(args.get("view"))
    if method in ASSISTANT_METHODS:
        return assistant_problems(method, args)
    return []


def error_for(method: str, problems: list[str]) -> str:
    """The error code Slack answers a refused payload with."""
    if method in VIEW_METHODS or method in ASSISTANT_METHODS:
        return "invalid_arguments"
    first = problems[0]
    if first.startswith(("chunks", "task_display_mode")):
        return "invalid_chunks"
    if first.startswith(("text:", "markdown_text:")):
        return "no_text" if "no_text" in first else "msg_too_long"
    return "invalid_blocks"


@dataclass
class StreamState:
    mode: str
    open: bool = True
    title: str = ""
    tasks: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (status, output)
    text: str = ""

    def apply(self, args: dict[str, Any]) -> None:
        self.text += str(args.get("markdown_text") or "")
        for chunk in args.get("chunks") or []:
            if chunk["type"] == "plan_update":
                self.title = chunk["title"]
            elif chunk["type"] == "task_update":
                self.tasks[chunk["id"]] = (chunk["status"], str(chunk.get("output", "")))
            elif chunk["type"] == "markdown_text":
                self.text += chunk["text"]


@dataclass
class Injected:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    skip: int = 0  # calls to answer normally before this failure


def _decode_form_values(data: dict[str, Any]) -> dict[str, Any]:
    # slack_sdk form-encodes nested values (blocks, view) as JSON strings
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str) and value[:1] in "[{":
            try:
                out[key] = json.loads(value)
                continue
            except ValueError:
                pass
        out[key] = value
    return out


class FakeSlack:
    def __init__(self, *, team_id: str = "T0001") -> None:
        self.team_id = team_id
        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.responses: list[Call] = []  # posts to response_url
        self.injected: dict[str, list[Injected]] = {}
        self.thread_messages: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # streamed messages by ts: open until stopped; what a reader sees of a plan (its title
        # and each task's status and output, updated by id) and its text
        self.streams: dict[str, StreamState] = {}
        # users.info: the default test user is an admin of the default workspace, so an editor
        # there; U0002 is the same in the second workspace tests use. Admin flags count only
        # in the user's own workspace (team_id).
        self.users: dict[str, dict[str, Any]] = {
            "U0001": {"id": "U0001", "team_id": team_id, "is_admin": True},
            "U0002": {"id": "U0002", "team_id": "T0002", "is_admin": True},
        }
        # files_upload_v2, by file id: the name asked for in files.getUploadURLExternal and the
        # bytes then POSTed to its upload_url (`files_posted` lists the completed uploads)
        self.uploaded: dict[str, bytes] = {}
        self.upload_names: dict[str, str] = {}
        self._file_ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.changed = asyncio.Event()
        self.scopes: list[str] = list(INSTALLED_SCOPES)
        # block types this workspace does not take (a newer feature it lacks): refused with
        # invalid_blocks as Slack does, without counting as the test's mistake
        self.unsupported_blocks: set[str] = set()
        # Socket Mode: the open connections, and every message the app sent back (acks)
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: list[dict[str, Any]] = []
        self._envelopes = itertools.count(1)
        # modals opened with views.open, by view id: the view and its hash as views.update
        # checks them (an unknown or closed view is `not_found`, a stale hash `hash_conflict`)
        self.open_views: dict[str, dict[str, Any]] = {}
        self._view_ids = itertools.count(1)

    # ---- life cycle -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # the SDK reads some methods with GET
        app.router.add_post("/response_url/{key}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.base_url}/response_url/{key}"

    # ---- test controls ----------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        error: str = "internal_error",
        status: int = 200,
        times: int = 1,
        headers: dict[str, str] | None = None,
        after: int = 0,
    ) -> None:
        for i in range(times):
            self.injected.setdefault(method, []).append(
                Injected(
                    status, {"ok": False, "error": error}, headers or {}, after if i == 0 else 0
                )
            )

    def close_view(self, view_id: str) -> None:
        """The person closed the modal (Cancel, Escape, clicking away)."""
        self.open_views.pop(view_id, None)

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self, predicate: Callable[[FakeSlack], bool], *, timeout: float = 5.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [c.method for c in self.calls] + ["respond"] * len(self.responses)
                raise AssertionError(f"timed out waiting; calls so far: {seen}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 0.05))

    async def wait_calls(self, method: str, count: int = 1, *, timeout: float = 5.0) -> list[Call]:
        await self.wait_for(lambda s: len(s.of(method)) >= count, timeout=timeout)
        return self.of(method)

    async def wait_responses(self, count: int = 1, *, timeout: float = 5.0) -> list[Call]:
        await self.wait_for(lambda s: len(s.responses) >= count, timeout=timeout)
        return self.responses

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver a Socket Mode envelope (e.g. "slash_commands") on the newest connection."""
        envelope_id = f"env-{next(self._envelopes)}"
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
            }
        )
        return envelope_id

    def next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    # ---- handlers ---------------------------------------------------------------------------
    async def _read(self, request: web.Request) -> dict[str, Any]:
        raw = await request.text()
        if request.content_type == "application/json":
            parsed: dict[str, Any] = json.loads(raw) if raw else {}
            return parsed
        merged = dict(parse_qsl(raw, keep_blank_values=True))
        merged.update(dict(request.query))
        return _decode_form_values(merged)

    def _refused(self, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
        problems = payload_problems(method, args)
        if not problems:
            return None
        self.violations.append(Violation(method, problems))
        return {
            "ok": False,
            "error": error_for(method, problems),
            "response_metadata": {"messages": [f"[ERROR] {p}" for p in problems]},
        }

    def _unsupported(self, args: dict[str, Any]) -> dict[str, Any] | None:
        blocks = args.get("blocks")
        if not self.unsupported_blocks or not isinstance(blocks, list):
            return None
        kinds = {
            str(b.get("type")) for b in blocks if isinstance(b, dict)
        } & self.unsupported_blocks
        if not kinds:
            return None
        return {
            "ok": False,
            "error": "invalid_blocks",
            "response_metadata": {"messages": [f"[ERROR] unsupported type {sorted(kinds)}"]},
        }

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        call = Call(f"response_url/{request.match_info['key']}", body)
        self.responses.append(call)
        self.changed.set()
        unsupported = self._unsupported(body)
        if unsupported is not None:
            call.response = unsupported
            return web.Response(status=400, text=str(unsupported["error"]))
        refused = self._refused(call.method, body)
        if refused is not None:
            # response_url answers a bad payload with a plain-text error and status 400
            return web.Response(status=400, text=str(refused["error"]))
        return web.json_response({"ok": True})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # answers the client's pings, as Slack does
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake-slack"},
                "connection_info": {"app_id": "A0001"},
            }
        )
        self.sockets.append(ws)
        self.changed.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(message.data))
                    self.changed.set()
        finally:
            self.sockets.remove(ws)
            self.changed.set()
        return ws

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.upload_names:
            return web.Response(status=404, text="unknown upload url")
        self.uploaded[file_id] = await request.read()
        self.changed.set()
        return web.Response(text="OK - 200")

    def files_posted(self) -> list[tuple[str, bytes, dict[str, Any]]]:
        """(filename, bytes, completeUploadExternal args) of every upload that was completed."""
        out = []
        for call in self.of("files.completeUploadExternal"):
            if not call.response.get("ok"):
                continue
            for f in call.args.get("files") or []:
                out.append((self.upload_names[f["id"]], self.uploaded.get(f["id"], b""), call.args))
        return out

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._read(request)
        call = Call(method, args)
        self.calls.append(call)
        self.changed.set()
        unsupported = self._unsupported(args)
        if unsupported is not None:
            call.response = unsupported
            return web.json_response(unsupported)
        refused = self._refused(method, args)
        if refused is not None:
            call.response = refused
            return web.json_response(refused)
        queue = self.injected.get(method)
        if queue and queue[0].skip > 0:
            queue[0].skip -= 1
        elif queue:
            inj = queue.pop(0)
            call.response = inj.body
            return web.json_response(inj.body, status=inj.status, headers=inj.headers)
        call.response = self._answer(method, args)
        headers = {"x-oauth-scopes": ",".join(self.scopes)} if method == "auth.test" else None
        return web.json_response(call.response, headers=headers)

    def _stored_view(self, view_id: str, args: dict[str, Any]) -> dict[str, Any]:
        view = {**(args.get("view") or {}), "id": view_id, "hash": f"{time.time():.6f}.{view_id}"}
        self.open_views[view_id] = view
        return {"ok": True, "view": view}

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "oauth.v2.access":
            # what Slack answers when a workspace admin approves the install
            return {
                "ok": True,
                "app_id": "A0001",
                "authed_user": {"id": "U0INSTALLER"},
                "scope": "commands,chat:write",
                "token_type": "bot",
                "access_token": "xoxb-installed-token",
                "bot_user_id": BOT_USER_ID,
                "team": {"id": "T0NEW", "name": "New Workspace"},
                "enterprise": None,
                "is_enterprise_install": False,
            }
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "Example",
                "team_id": self.team_id,
                "user": "romashka",
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
        if method == "apps.connections.open":
            return {"ok": True, "url": f"{self.base_url.replace('http', 'ws', 1)}/socket"}
        if (
            method == "chat.startStream"
            and str(args.get("channel", ""))[:1] in {"C", "G"}
            and not (args.get("recipient_user_id") and args.get("recipient_team_id"))
        ):
            # "Required when streaming to channels"
            return {"ok": False, "error": "missing_recipient_user_id"}
        if method in {"chat.postMessage", "chat.startStream"}:
            ts = self.next_ts()
            if method == "chat.startStream":
                self.streams[ts] = StreamState(mode=str(args.get("task_display_mode", "timeline")))
                self.streams[ts].apply(args)
            channel = args.get("channel", "")
            message = {"ts": ts, "text": args.get("text", ""), "bot_id": BOT_ID}
            if args.get("metadata"):
                message["metadata"] = args["metadata"]
            if args.get("thread_ts"):
                self.thread_messages.setdefault((channel, args["thread_ts"]), []).append(message)
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method in {"chat.appendStream", "chat.stopStream"}:
            stream = self.streams.get(str(args.get("ts")))
            if stream is None or not stream.open:
                return {"ok": False, "error": "message_not_in_streaming_state"}
            stream.apply(args)
            stream.open = method == "chat.appendStream"
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        if method in {"views.open", "views.push"}:
            view_id = f"VM{next(self._view_ids):04d}"
            return self._stored_view(view_id, args)
        if method == "views.update":
            view_id = str(args.get("view_id") or "")
            stored = self.open_views.get(view_id)
            if stored is None:
                return {"ok": False, "error": "not_found"}
            if args.get("hash") and args["hash"] != stored["hash"]:
                return {"ok": False, "error": "hash_conflict"}
            return self._stored_view(view_id, args)
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V0001", **(args.get("view") or {})}}
        if method == "conversations.replies":
            key = (args.get("channel", ""), args.get("ts", ""))
            messages = self.thread_messages.get(key, [])
            # Slack leaves messages' metadata out unless asked for it
            if str(args.get("include_all_metadata", "")).lower() not in {"true", "1"}:
                messages = [{k: v for k, v in m.items() if k != "metadata"} for m in messages]
            return {"ok": True, "messages": messages, "has_more": False}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._file_ids):06d}"
            self.upload_names[file_id] = str(args.get("filename", ""))
            return {
                "ok": True,
                "file_id": file_id,
                "upload_url": f"{self.base_url}/upload/{file_id}",
            }
        if method == "files.completeUploadExternal":
            files = args.get("files") or []
            missing = [f["id"] for f in files if f.get("id") not in self.uploaded]
            if missing:
                return {"ok": False, "error": "invalid_file_ids"}
            return {
                "ok": True,
                "files": [
                    {"id": f["id"], "name": self.upload_names[f["id"]], "title": f.get("title")}
                    for f in files
                ],
            }
        if method == "users.info":
            user = self.users.get(args.get("user", ""))
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": user}
        return {"ok": True}
