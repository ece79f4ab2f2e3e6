"""The one settings object; every field is documented in docs/settings.md."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")


def masked_url(url: str) -> str:
    """`url` with the password of its user info replaced by `***`."""
    return _URL_PASSWORD.sub(r"\1***@", url)


class Settings(BaseSettings):
    """wikiloom's settings, read from `WIKILOOM_*` environment variables or a `.env` file."""

    model_config = SettingsConfigDict(env_prefix="WIKILOOM_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./wikiloom.db",
        description="SQLAlchemy URL of the database: sqlite:///, postgresql+psycopg:// or "
        "mysql+pymysql://.",
    )
    database_pool_size: int = Field(
        default=10, ge=1, description="Connections kept open per process (PostgreSQL, MariaDB)."
    )
    database_pool_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for a free pooled connection."
    )
    sqlite_busy_timeout: float = Field(
        default=30.0, gt=0, description="Seconds an SQLite writer waits for the write lock."
    )
    forms_dir: Path | None = Field(
        default=None,
        description="Extra directory of form YAML files (and i18n/<form>/<lang>.json); "
        "its forms override the built-in ones of the same name.",
    )
    workset_expiry: int = Field(
        default=86400,
        gt=0,
        description="Default lifetime of a workset's leases in seconds, for new campaigns.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Key that signs session cookies; without one, a random key is made at "
        "start and sessions end with the process.",
    )
    token_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts users' OAuth 2.0 tokens at rest (`wikiloom keys "
        'token` or `python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"`); several keys, comma-separated, rotate: '
        "the first encrypts, all decrypt. Required outside development.",
    )
    dev_login: bool = Field(
        default=False,
        description="Offer POST /auth/dev_login/ (log in as any user id) when serving on "
        "loopback; for development and tests only.",
    )
    oauth_version: Literal["2.0", "1.0a"] = Field(
        default="2.0", description="MediaWiki OAuth protocol of the login: 2.0 or 1.0a."
    )
    oauth_consumer_key: str | None = Field(
        default=None,
        description="Key (client id) of the OAuth consumer registered on the login wiki; "
        "login is unavailable without it.",
    )
    oauth_consumer_secret: SecretStr | None = Field(
        default=None, description="Secret of the OAuth consumer (client secret)."
    )
    oauth_wiki: str = Field(
        default="https://meta.wikimedia.org",
        description="Wiki the login goes to; MediaWiki's OAuth paths (/w/rest.php/oauth2/…, "
        "/w/index.php?title=Special:OAuth/…) are derived from it.",
    )
    session_cookie_secure: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure: unset means when the request came over https.",
    )
    session_cookie_samesite: Literal["auto", "lax", "none"] = Field(
        default="auto",
        description="SameSite of the session cookie: auto is None on Secure cookies (on-wiki "
        "gadgets) and Lax otherwise; none always implies Secure.",
    )
    admins: list[str] = Field(
        default_factory=list,
        description="Usernames of the administrators, as a JSON list: they create campaigns "
        "and manage every campaign.",
    )
    model_stewards: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Model stewards per wiki, as a JSON object of dbname to usernames, e.g. "
        '`{"enwiki": ["Alice"]}`: they pause and resume (change the status of) the models of '
        "their wiki and decide its change requests, as admins do on every wiki.",
    )
    cors_origins: str = Field(
        default=r"https://([^./]+\.)*(wiki([pm]edia|data|books|versity|quote|source|news|voyage)"
        r"|wiktionary|mediawiki)\.org",
        description="Regular expression of the origins allowed to call the API with "
        "credentials (on-wiki gadgets).",
    )
    user_agent: str | None = Field(
        default=None,
        description="User-Agent sent with every request to a wiki, naming the tool and a "
        "contact (Wikimedia's policy), e.g. `wikiloom/0.1 (https://…; you@example.org)`; "
        "wiki calls refuse to run without one.",
    )
    wikis: dict[str, str] = Field(
        default_factory=dict,
        description="Wikis beyond Wikimedia's, as a JSON object of dbname to Action API URL, "
        'e.g. `{"testwiki": "http://127.0.0.1:8080/api.php"}`; they override the built-in '
        "names.",
    )
    wiki_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait for a wiki's answer."
    )
    wiki_user_ttl: float = Field(
        default=600.0,
        ge=0,
        description="Seconds a labeler's groups and edit count, looked up on a wiki for a "
        "campaign's requirements, are remembered.",
    )
    face_image_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (host:port) beyond upload.wikimedia.org that face images may be "
        'downloaded from, over http too, as a JSON list, e.g. `["127.0.0.1:8081"]`: test '
        "wikis on loopback only.",
    )
    face_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1,
        description="Largest image, in bytes, downloaded to detect or encode faces.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL of the score cache (`redis://127.0.0.1:6379/0`), with ORES's "
        "keys; without one, scores are cached in each process's memory.",
    )
    score_cache_size: int = Field(
        default=100_000, ge=1, description="Scores kept by the in-process cache (no Redis)."
    )
    model_idle_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds a loaded model may go unused before it is unloaded (it loads "
        "again on its next request).",
    )
    scoring_client_limit: int = Field(
        default=8,
        ge=1,
        description="Scoring requests one client (X-Client-IP, else its address) may have "
        "in flight; more are answered 429.",
    )
    scoring_max_inflight: int = Field(
        default=256,
        ge=1,
        description="Scoring requests in flight in one process; more are answered 503 with "
        "Retry-After (load shedding).",
    )
    precache: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description="Models scored for every new revision, as JSON: wiki -> model -> event "
        'kinds, e.g. `{"enwiki": {"damaging": ["edit"]}}`; kinds: edit, main_edit, bot_edit, '
        "nonbot_edit, page_creation, main_creation, bot_page_creation, nonbot_page_creation.",
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker of the background jobs: `redis://127.0.0.1:6379/1` or "
        "`amqp://guest:guest@127.0.0.1:5672//`; without one, an SQLite file beside an SQLite "
        "database (`sqla+sqlite:///…-jobs.db`), which needs no extra service but polls.",
    )
    job_queue: str = Field(
        default="wikiloom",
        pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
        description="Name of the broker queue the jobs go through; distinct per "
        "installation on a shared broker (Toolforge's Redis).",
    )
    job_visibility_timeout: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds a Redis (or SQLite) broker waits for a job's acknowledgement "
        "before delivering it again (a worker died); longer than the longest job.",
    )
    job_stale_after: float = Field(
        default=300.0,
        gt=0,
        description="Seconds without a checkpoint after which a running job counts as "
        "abandoned, so that a new delivery takes it over from its last checkpoint.",
    )
    job_batch_size: int = Field(
        default=200,
        ge=1,
        description="Revisions a job fetches, extracts and commits (with its checkpoint) at "
        "a time.",
    )
    job_max_retries: int = Field(
        default=8,
        ge=0,
        description="Times a job that failed for a passing reason (a wiki or the database "
        "away) is tried again, with exponential backoff.",
    )
    wiki_job_interval: float = Field(
        default=1.0,
        ge=0,
        description="Politeness: minimum seconds between two batches of requests that "
        "background jobs send to one wiki, across every worker.",
    )
    round_check_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between the scheduler's looks for active-learning campaigns due "
        "to retrain.",
    )
    face_write_check_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between the scheduler's looks for face projects with depicts "
        "edits waiting to be written.",
    )
    face_processes: int = Field(
        default=2,
        ge=1,
        description="Face-detection processes a `faces_detect` job starts (each holds the "
        "dlib models, about 100 MB, and one core).",
    )
    export_dir: Path = Field(
        default=Path("exports"),
        description="Directory where export jobs write campaigns' labels.",
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1,
        description="Largest request body accepted, in bytes; larger ones are answered 413 "
        "(task uploads may carry up to 64 MiB).",
    )
    rate_limits: dict[str, str] = Field(
        default_factory=lambda: {
            "login": "20/minute",
            "feedback": "30/minute",
            "face_drawing": "60/minute",
            "labels": "300/minute",
        },
        description="Requests per client (its address) and route group, as a JSON object of "
        'group to rate, e.g. `{"login": "20/minute"}`; groups: login, feedback, '
        "face_drawing, labels; a group left out is not limited. Over it: 429.",
    )
    host: str = Field(default="127.0.0.1", description="Address `wikiloom serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `wikiloom serve` binds.")
    log_level: str = Field(default="info", description="Log level: debug, info, warning, error.")

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The fields for repr(), with the secret key and URL passwords masked."""
        for name, value in super().__repr_args__():
            shown = value
            if name == "secret_key" and value is not None:
                shown = "**********"
            elif name and name.endswith("_url") and isinstance(value, str):
                shown = masked_url(value)
            yield name, shown
