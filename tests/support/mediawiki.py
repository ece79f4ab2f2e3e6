"""A real MediaWiki for integration tests: Debian's package, SQLite, served by `php -S`.

The session-scoped `mediawiki` fixture installs a fresh wiki into a temporary folder, serves
it on a free loopback port, seeds users, pages with several revisions, photos uploaded into a
small category tree and a bot password, imports the 206-page enwiki sample dump, and yields a
frozen `MediaWiki` describing it. Tests that use it are marked `mediawiki`
(`pytest -m mediawiki` runs just them). Where PHP or MediaWiki is missing the fixture skips
(run `scripts/install-system`); with CI=true it fails instead.

Tests share one wiki per session: they may create pages of their own (with unique titles),
but must not edit the seeded pages or edit as the seeded users, whose edit counts other tests
check.
"""

from __future__ import annotations

import bz2
import contextlib
import html
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import httpx
import pytest

MEDIAWIKI_DIR_ENV = "WIKILOOM_TEST_MEDIAWIKI_DIR"
DEFAULT_MEDIAWIKI_DIR = "/usr/share/mediawiki"
PHP_MODULES = ("intl", "mbstring", "pdo_sqlite", "xml", "curl", "gd")
USER_AGENT = "wikiloom-tests/0.1 (https://github.com/wikiloom/wikiloom; tests)"
STARTUP_TIMEOUT = 20.0
SERVER_WORKERS = 4
AUTOCONFIRM_COUNT = 3

ADMIN = "Admin"
ADMIN_PASSWORD = "wikiloom-Admin-pass-4821"
BOT_APP = "app"
BOT_PASSWORD = "wikiloomtestsbotpassword00000001"  # 32 characters, as MediaWiki generates
BOT_GRANTS = ("basic", "editpage", "highvolume", "createeditmovepage")
ANONYMOUS_IP = "127.0.0.1"
DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE_DUMP = DATA / "enwiki_sample" / "enwiki-sample-206-pages.xml.bz2"
FACES = DATA / "faces"

# Seeded accounts: name -> explicit groups. Their edits come from SEED_EDITS below.
SEED_USERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "Newbie": frozenset(),
        "Regular": frozenset(),
        "Sysop": frozenset({"sysop"}),
        "Tidybot": frozenset({"bot"}),
    }
)

LOOM_V1 = "A '''loom''' is a device used to weave cloth and tapestry.\n"
LOOM_V2 = LOOM_V1 + (
    "\n== History ==\nThe earliest looms date from the Neolithic period; "
    "warp-weighted looms were common in ancient Greece.\n"
)
LOOM_V3 = LOOM_V2.replace(
    "ancient Greece.",
    "ancient Greece.<ref>Barber, E. J. W. (1991). ''Prehistoric Textiles''.</ref>",
) + ("\n== References ==\n<references />\n")
WEAVING_V1 = (
    "'''Weaving''' is a method of textile production in which two sets of threads are "
    "interlaced at right angles on a [[loom]].\n"
)
WEAVING_V2 = WEAVING_V1.replace("right angles", "right angles to form a fabric")
WEAVING_V3 = WEAVING_V2 + (
    "\nThe longitudinal threads are called the '''warp''' and the lateral threads the '''weft'''.\n"
)


@dataclass(frozen=True)
class SeedEdit:
    """One edit made while seeding; `user` None means an anonymous edit from 127.0.0.1."""

    title: str
    user: str | None
    summary: str
    text: str
    damaging: bool = False
    bot: bool = False


SEED_EDITS: tuple[SeedEdit, ...] = (
    SeedEdit("Loom", "Regular", "Start an article on looms", LOOM_V1),
    SeedEdit("Loom", "Regular", "Add a history section", LOOM_V2),
    SeedEdit("Loom", None, "", "LOOMS ARE SO BORING lol!!!!!!!\n", damaging=True),
    SeedEdit("Loom", "Sysop", "Undo vandalism by [[Special:Contributions/127.0.0.1]]", LOOM_V2),
    SeedEdit("Loom", "Regular", "Cite a source", LOOM_V3),
    SeedEdit("Weaving", "Regular", "Start an article on weaving", WEAVING_V1),
    SeedEdit("Weaving", "Tidybot", "Bot: copyedit", WEAVING_V2, bot=True),
    SeedEdit("Weaving", "Regular", "Name the warp and the weft", WEAVING_V3),
)


@dataclass(frozen=True)
class SeedCategory:
    """A category page made while seeding: its parents and the photos uploaded into it."""

    name: str
    parents: tuple[str, ...]
    files: tuple[str, ...]


# A category tree with a cycle (Portraits -> Presidents -> Obama and Biden -> Portraits), for
# crawls with a depth limit. Files are the photos of tests/data/faces, uploaded as `File:<Name>`.
SEED_CATEGORIES: tuple[SeedCategory, ...] = (
    SeedCategory("Portraits", ("Obama and Biden",), ("biden.jpg", "biden2.jpg")),
    SeedCategory("Presidents", ("Portraits",), ("obama.jpg", "obama2.jpg")),
    SeedCategory("Obama and Biden", ("Presidents",), ("obama_and_biden.jpg",)),
)

LOCAL_SETTINGS = """
# --- wikiloom test settings ---
$wgMainCacheType = CACHE_NONE;
$wgEnableEmail = false;
$wgEnableUserEmail = false;
$wgRateLimits = [];
$wgAutoConfirmAge = 0;
$wgAutoConfirmCount = {autoconfirm_count};
$wgEnableBotPasswords = true;
$wgCrossSiteAJAXdomains = [ '*' ];
$wgGroupPermissions['*']['edit'] = true;
$wgGroupPermissions['*']['createpage'] = true;
$wgGroupPermissions['sysop']['deleterevision'] = true;
$wgShowExceptionDetails = true;
$wgEnableUploads = true;
$wgUploadDirectory = {images};
$wgUploadPath = "/images";
$wgUseImageMagick = false;  // thumbnails by PHP's GD
$wgMaxImageArea = 1.25e7;
"""

# `php -S` serves the uploads (outside MediaWiki's folder) under /images/; the rest as usual.
ROUTER = """<?php
$images = {images};
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
if (strncmp($path, '/images/', 8) !== 0) {{
    return false;
}}
$file = realpath($images . '/' . substr($path, 8));
if ($file === false || strncmp($file, $images . '/', strlen($images) + 1) !== 0
    || !is_file($file)) {{
    http_response_code(404);
    return true;
}}
header('Content-Type: ' . mime_content_type($file));
header('Content-Length: ' . filesize($file));
readfile($file);
return true;
"""


@dataclass(frozen=True)
class WikiUser:
    """An account on the test wiki, as seeded: explicit groups and the edits made as it."""

    name: str
    password: str
    user_id: int
    groups: frozenset[str]
    edits: int


@dataclass(frozen=True)
class BotPassword:
    """A bot password of the admin, for `action=login` as `Admin@app`."""

    username: str
    password: str
    app_id: str
    grants: tuple[str, ...]


@dataclass(frozen=True)
class SeededRevision:
    """One seeded revision as the wiki stored it."""

    rev_id: int
    parent_id: int
    user_text: str
    comment: str
    damaging: bool


@dataclass(frozen=True)
class SeededPage:
    """A seeded page with its revisions, oldest first."""

    title: str
    page_id: int
    namespace: int
    revisions: tuple[SeededRevision, ...]


@dataclass(frozen=True)
class SeededFile:
    """An uploaded photo: its file page and the categories it was put in."""

    title: str
    page_id: int
    categories: tuple[str, ...]
    path: Path = field(repr=False)


@dataclass(frozen=True)
class MediaWiki:
    """A running test wiki: where it answers, who is on it and what it holds."""

    server: str
    api_url: str
    index_url: str
    dbname: str
    sitename: str
    admin: WikiUser
    bot: BotPassword
    users: Mapping[str, WikiUser]
    pages: Mapping[str, SeededPage]
    files: Mapping[str, SeededFile]
    sample_titles: tuple[str, ...]
    root: Path = field(repr=False)
    config_file: Path = field(repr=False)
    mediawiki_dir: Path = field(repr=False)

    def maintenance(self, script: str, *args: str, stdin: str | None = None) -> str:
        """Run a maintenance script against this wiki and return its output."""
        return run_maintenance(self.mediawiki_dir, self.config_file, script, *args, stdin=stdin)

    def import_dump(self, source: Path | bytes, *, link_updates: bool = False) -> str:
        """Import an XML dump (a path, plain or .bz2, or the XML itself) into this wiki.

        Without `link_updates` the link tables (categories, links) stay empty: the 206-page
        enwiki sample then imports in about 2 s instead of 26 s.
        """
        if isinstance(source, Path):
            source = read_dump(source)
        imports = self.root / "imports"
        imports.mkdir(exist_ok=True)
        path = imports / f"dump-{time.monotonic_ns()}.xml"
        path.write_bytes(source)
        flags = [] if link_updates else ["--no-updates"]
        return self.maintenance("importDump.php", *flags, str(path))

    def history(self, title: str) -> list[int]:
        """The rev_ids of a page, oldest first (at most 500)."""
        with api_client(self.server) as client:
            body = client.get(
                "api.php",
                params={
                    "action": "query",
                    "prop": "revisions",
                    "titles": title,
                    "rvprop": "ids",
                    "rvdir": "newer",
                    "rvlimit": "max",
                },
            ).json()
        return [int(rev["revid"]) for rev in body["query"]["pages"][0].get("revisions", [])]

    def create_users(self, names: Iterable[str]) -> None:
        """Create accounts (without passwords) in one PHP process: hundreds a second."""
        # eval.php runs its input line by line (lines of at most 1 KiB): one statement a line.
        lines = "".join(f"User::createNew({php_literal(name)});\n" for name in names)
        self.maintenance("eval.php", stdin=lines)


def history_dump(
    prefix: str,
    pages: int,
    revisions: int,
    editors: Sequence[str] = tuple(f"Importee {n}" for n in range(7)),
    *,
    text: Callable[[int, int], str] | None = None,
    series: int = 0,
) -> bytes:
    """An XML dump of `pages` pages of `revisions` revisions each, every other one by an IP.

    The others are by `editors` in turn; the import attributes them to local accounts of
    those names where they exist (`MediaWiki.create_users`), else to external users.
    `text(page, revision)` gives each revision's text, already XML-escaped (short synthetic
    texts by default). Dumps of another `series` use other IPs, user ids and dates, so that
    several can be imported into one wiki.
    """
    parts = [
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" '
        'xml:lang="en">\n'
    ]
    named = 0
    for p in range(pages):
        parts.append(f"<page><title>{html.escape(prefix)} {p}</title><ns>0</ns>\n")
        for r in range(revisions):
            if r % 2:
                contributor = f"<ip>10.{series}.{p % 250}.{r % 200}</ip>"
            else:
                n = named % len(editors)
                user_id = 1000 * (series + 1) + n
                contributor = f"<username>{html.escape(editors[n])}</username><id>{user_id}</id>"
                named += 1
            body = text(p, r) if text else f"Page {p}, version {r}. {'Lorem ipsum. ' * 20}"
            parts.append(
                f"<revision><timestamp>2020-{1 + series:02d}-{1 + p % 28:02d}T{r // 3600:02d}:"
                f"{r // 60 % 60:02d}:{r % 60:02d}Z</timestamp>"
                f"<contributor>{contributor}</contributor>"
                f"<comment>Edit {r}</comment><model>wikitext</model><format>text/x-wiki</format>"
                f'<text xml:space="preserve">{body}</text></revision>\n'
            )
        parts.append("</page>\n")
    parts.append("</mediawiki>\n")
    return "".join(parts).encode()


def read_dump(path: Path) -> bytes:
    """Return the XML of a dump file, decompressing `.bz2`."""
    return bz2.decompress(path.read_bytes()) if path.suffix == ".bz2" else path.read_bytes()


def dump_subset(
    source: Path | bytes, *, titles: Iterable[str] | None = None, limit: int | None = None
) -> bytes:
    """Return the dump with only the chosen pages (by title, then the first `limit`)."""
    xml = read_dump(source) if isinstance(source, Path) else source
    wanted = None if titles is None else set(titles)
    head: list[bytes] = []
    kept: list[bytes] = []
    page: list[bytes] | None = None
    started = False
    count = 0
    title = ""
    for line in xml.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == b"<page>":
            page, title, started = [line], "", True
        elif page is not None:
            page.append(line)
            if stripped.startswith(b"<title>") and not title:
                title = html.unescape(stripped[7:].split(b"</title>")[0].decode())
            if stripped == b"</page>":
                if (wanted is None or title in wanted) and (limit is None or count < limit):
                    kept.extend(page)
                    count += 1
                page = None
        elif stripped.startswith(b"</mediawiki>"):
            break
        elif not started:
            head.append(line)
    return b"".join([*head, *kept, b"</mediawiki>\n"])


def run_maintenance(
    mediawiki_dir: Path, config_file: Path, script: str, *args: str, stdin: str | None = None
) -> str:
    """Run `php maintenance/<script>` with MW_CONFIG_FILE set; raise with its output on failure."""
    env = {**os.environ, "MW_CONFIG_FILE": str(config_file)}
    command = ["php", str(mediawiki_dir / "maintenance" / script), *args]
    done = subprocess.run(
        command,
        cwd=mediawiki_dir,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def unavailable(reason: str) -> None:
    """Skip the MediaWiki tier, or fail when CI demands every tier."""
    message = f"mediawiki tier unavailable ({reason}); run scripts/install-system"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


def check_installed() -> Path:
    """Return MediaWiki's folder, or skip (fail under CI) when PHP or MediaWiki is missing."""
    mediawiki_dir = Path(os.environ.get(MEDIAWIKI_DIR_ENV) or DEFAULT_MEDIAWIKI_DIR)
    if shutil.which("php") is None:
        unavailable("no php on PATH")
    if not (mediawiki_dir / "maintenance" / "install.php").is_file():
        unavailable(f"no MediaWiki at {mediawiki_dir}; set {MEDIAWIKI_DIR_ENV}")
    modules = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False).stdout
    present = {line.strip().lower() for line in modules.splitlines()}
    missing = [module for module in PHP_MODULES if module not in present]
    if missing:
        unavailable(f"PHP modules missing: {', '.join(missing)}")
    return mediawiki_dir


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def install_wiki(mediawiki_dir: Path, root: Path, server: str) -> Path:
    """Install a fresh SQLite wiki under `root` and return its LocalSettings.php."""
    data, conf = root / "data", root / "conf"
    data.mkdir()
    conf.mkdir()
    done = subprocess.run(
        [
            "php",
            str(mediawiki_dir / "maintenance" / "install.php"),
            *("--dbtype", "sqlite", "--dbpath", str(data), "--dbname", "testwiki"),
            *("--server", server, "--scriptpath", "", "--lang", "en"),
            *("--pass", ADMIN_PASSWORD, "--confpath", str(conf)),
            "TestWiki",
            ADMIN,
        ],
        cwd=mediawiki_dir,
        env={key: value for key, value in os.environ.items() if key != "MW_CONFIG_FILE"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    config_file = conf / "LocalSettings.php"
    if done.returncode != 0 or not config_file.is_file():
        raise RuntimeError(f"install.php failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    images = root / "images"
    images.mkdir()
    with config_file.open("a") as settings:
        settings.write(
            LOCAL_SETTINGS.format(autoconfirm_count=AUTOCONFIRM_COUNT, images=php_literal(images))
        )
    (root / "router.php").write_text(ROUTER.format(images=php_literal(images)))
    return config_file


def php_literal(value: str | Path) -> str:
    """A string (or path) as a single-quoted PHP string literal."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def start_server(
    mediawiki_dir: Path, config_file: Path, port: int, log: Path
) -> subprocess.Popen[bytes]:
    """Serve MediaWiki with PHP's built-in server on loopback, in its own process group.

    The router script beside `config_file`'s folder serves the uploads under /images/.
    """
    env = {
        **os.environ,
        "MW_CONFIG_FILE": str(config_file),
        "PHP_CLI_SERVER_WORKERS": str(SERVER_WORKERS),
    }
    with log.open("wb") as output:
        return subprocess.Popen(
            ["php", "-S", f"127.0.0.1:{port}", str(config_file.parent.parent / "router.php")],
            cwd=mediawiki_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and its worker processes (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    else:  # the leader died; its workers may still hold the group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_for_siteinfo(
    client: httpx.Client, process: subprocess.Popen[bytes], log: Path
) -> dict[str, object]:
    """Poll api.php until it answers siteinfo; return the `general` block."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            answer = client.get("api.php", params={"action": "query", "meta": "siteinfo"})
            general: dict[str, object] = answer.json()["query"]["general"]
            return general
        except (httpx.HTTPError, ValueError, KeyError) as error:
            last = f"{type(error).__name__}: {error}"
            time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"MediaWiki did not answer siteinfo ({last}); server log:\n{tail}")


def api_client(server: str) -> httpx.Client:
    """An httpx client of the wiki's api.php with JSON format parameters preset."""
    return httpx.Client(
        base_url=f"{server}/",
        params={"format": "json", "formatversion": "2"},
        headers={"User-Agent": USER_AGENT},
        timeout=30,
    )


def anonymous_edit(client: httpx.Client, edit: SeedEdit) -> None:
    """Save an edit over the API without logging in (attributed to 127.0.0.1)."""
    answer = client.post(
        "api.php",
        data={
            "action": "edit",
            "title": edit.title,
            "text": edit.text,
            "summary": edit.summary,
            "token": "+\\",
        },
    ).json()
    if answer.get("edit", {}).get("result") != "Success":
        raise RuntimeError(f"anonymous edit of {edit.title!r} failed: {answer}")


def seed(mediawiki_dir: Path, config_file: Path, client: httpx.Client) -> None:
    """Create the seeded accounts, edits, files, categories and the admin's bot password."""

    def maintenance(script: str, *args: str, stdin: str | None = None) -> str:
        return run_maintenance(mediawiki_dir, config_file, script, *args, stdin=stdin)

    for name, groups in SEED_USERS.items():
        flags = [f"--{group}" for group in sorted(groups)]
        maintenance("createAndPromote.php", *flags, name, password_of(name))
    maintenance(
        "createBotPassword.php",
        *("--appid", BOT_APP, "--grants", ",".join(BOT_GRANTS)),
        ADMIN,
        BOT_PASSWORD,
    )
    for edit in SEED_EDITS:
        if edit.user is None:
            anonymous_edit(client, edit)
            continue
        flags = ["--bot"] if edit.bot else []
        maintenance(
            "edit.php",
            *("--user", edit.user, "--summary", edit.summary, *flags, edit.title),
            stdin=edit.text,
        )
    seed_files(mediawiki_dir, config_file)


def seed_files(mediawiki_dir: Path, config_file: Path) -> None:
    """Upload the photos into their categories and create the category pages."""
    uploads = config_file.parent.parent / "uploads"
    for category in SEED_CATEGORIES:
        folder = uploads / category.name
        folder.mkdir(parents=True)
        for name in category.files:
            shutil.copy(FACES / name, folder / name)
        run_maintenance(
            mediawiki_dir,
            config_file,
            "importImages.php",
            f"--comment=A photo for wikiloom's tests. [[Category:{category.name}]]",
            f"--user={ADMIN}",
            str(folder),
        )
        run_maintenance(
            mediawiki_dir,
            config_file,
            "edit.php",
            *("--user", ADMIN, "--summary", "Category", f"Category:{category.name}"),
            stdin="".join(f"[[Category:{parent}]]\n" for parent in category.parents),
        )


def file_title(name: str) -> str:
    """The title MediaWiki gives an upload: `obama_and_biden.jpg` -> `File:Obama and biden.jpg`."""
    name = name.replace("_", " ")
    return f"File:{name[:1].upper()}{name[1:]}"


def password_of(name: str) -> str:
    """The password of a seeded account."""
    return f"wikiloom-{name}-pass-4821"


def describe_users(client: httpx.Client) -> dict[str, WikiUser]:
    """Read the seeded accounts' ids from the wiki and pair them with what was seeded."""
    names = [ADMIN, *SEED_USERS]
    answer = client.get(
        "api.php", params={"action": "query", "list": "users", "ususers": "|".join(names)}
    ).json()
    ids = {user["name"]: int(user["userid"]) for user in answer["query"]["users"]}
    edits = {name: sum(edit.user == name for edit in SEED_EDITS) for name in names}
    groups = {ADMIN: frozenset({"bureaucrat", "interface-admin", "sysop"}), **SEED_USERS}
    return {
        name: WikiUser(
            name=name,
            password=ADMIN_PASSWORD if name == ADMIN else password_of(name),
            user_id=ids[name],
            groups=groups[name],
            edits=edits[name],
        )
        for name in names
    }


def describe_pages(client: httpx.Client) -> dict[str, SeededPage]:
    """Read the seeded pages' revisions back from the wiki, oldest first."""
    pages: dict[str, SeededPage] = {}
    for title in dict.fromkeys(edit.title for edit in SEED_EDITS):
        planned = [edit for edit in SEED_EDITS if edit.title == title]
        answer = client.get(
            "api.php",
            params={
                "action": "query",
                "prop": "revisions",
                "titles": title,
                "rvprop": "ids|user|comment",
                "rvdir": "newer",
                "rvlimit": "max",
            },
        ).json()
        page = answer["query"]["pages"][0]
        stored = page["revisions"]
        if len(stored) != len(planned):
            raise RuntimeError(f"{title!r} has {len(stored)} revisions, seeded {len(planned)}")
        revisions = tuple(
            SeededRevision(
                rev_id=int(revision["revid"]),
                parent_id=int(revision["parentid"]),
                user_text=revision["user"],
                comment=revision["comment"],
                damaging=edit.damaging,
            )
            for revision, edit in zip(stored, planned, strict=True)
        )
        pages[title] = SeededPage(
            title=title, page_id=int(page["pageid"]), namespace=int(page["ns"]), revisions=revisions
        )
    return pages


def describe_files(client: httpx.Client) -> dict[str, SeededFile]:
    """Read the uploaded files' page ids back from the wiki."""
    titles = {
        file_title(name): (category.name, FACES / name)
        for category in SEED_CATEGORIES
        for name in category.files
    }
    answer = client.get(
        "api.php", params={"action": "query", "titles": "|".join(titles), "prop": "info"}
    ).json()
    files = {}
    for page in answer["query"]["pages"]:
        if page.get("missing"):
            raise RuntimeError(f"the upload of {page['title']!r} did not happen")
        category, path = titles[page["title"]]
        files[page["title"]] = SeededFile(
            title=page["title"], page_id=int(page["pageid"]), categories=(category,), path=path
        )
    return files


def sample_titles() -> tuple[str, ...]:
    """The titles of the pages of the enwiki sample dump."""
    xml = read_dump(SAMPLE_DUMP)
    return tuple(
        html.unescape(line.strip()[7:].split(b"</title>")[0].decode())
        for line in xml.splitlines()
        if line.strip().startswith(b"<title>")
    )


@contextlib.contextmanager
def serve_wiki(mediawiki_dir: Path, root: Path) -> Iterator[MediaWiki]:
    """Install, serve and seed a fresh wiki under `root`; stop serving it afterwards."""
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    config_file = install_wiki(mediawiki_dir, root, server)
    log = root / "server.log"
    process = start_server(mediawiki_dir, config_file, port, log)
    try:
        with api_client(server) as client:
            general = wait_for_siteinfo(client, process, log)
            seed(mediawiki_dir, config_file, client)
            users = describe_users(client)
            pages = describe_pages(client)
            files = describe_files(client)
        wiki = MediaWiki(
            server=server,
            api_url=f"{server}/api.php",
            index_url=f"{server}/index.php",
            dbname=str(general["wikiid"]),
            sitename=str(general["sitename"]),
            admin=users.pop(ADMIN),
            bot=BotPassword(
                username=f"{ADMIN}@{BOT_APP}",
                password=BOT_PASSWORD,
                app_id=BOT_APP,
                grants=BOT_GRANTS,
            ),
            users=MappingProxyType(users),
            pages=MappingProxyType(pages),
            files=MappingProxyType(files),
            sample_titles=sample_titles(),
            root=root,
            config_file=config_file,
            mediawiki_dir=mediawiki_dir,
        )
        wiki.import_dump(SAMPLE_DUMP)  # about 2 s: no link updates
        yield wiki
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def mediawiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaWiki]:
    """A fresh, seeded MediaWiki served on loopback for the whole session."""
    mediawiki_dir = check_installed()
    with serve_wiki(mediawiki_dir, tmp_path_factory.mktemp("mediawiki")) as wiki:
        yield wiki


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the wiki with the `mediawiki` tier marker."""
    for item in items:
        if "mediawiki" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mediawiki)
