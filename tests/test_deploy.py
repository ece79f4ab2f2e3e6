"""The deployment files parse, run commands and name settings that exist, and agree.

Docker, Kubernetes, KServe and Toolforge are not available here, so these checks are static:
the Dockerfile, .dockerignore, Procfile, deploy/toolforge/jobs.yaml, deploy/kubernetes/*.yaml
and the YAML of docs/deploy.md are read as files, every command they run is parsed by the real
`wikiloom` command line (in process, nothing started), every WIKILOOM_* variable is checked
against `Settings`, and every probe path against the routes of `create_app`.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from wikiloom.cli import app
from wikiloom.config import Settings
from wikiloom.http import create_app

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "docs" / "deploy.md"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROCFILE = ROOT / "Procfile"
KUBERNETES = ROOT / "deploy" / "kubernetes"
JOBS = ROOT / "deploy" / "toolforge" / "jobs.yaml"
IMAGE = "registry.example.org/wikiloom"
#: What Toolforge's web service (and any buildpack platform) puts in $PORT, for parsing.
PORT = "8000"
#: The settings that only ever come from the Secret.
SECRET_SETTINGS = {
    "WIKILOOM_DATABASE_URL",
    "WIKILOOM_SECRET_KEY",
    "WIKILOOM_TOKEN_KEY",
    "WIKILOOM_OAUTH_CONSUMER_SECRET",
}
#: Keys of a job in `toolforge jobs load` files (the Toolforge jobs framework).
JOB_KEYS = {
    "name",
    "image",
    "command",
    "continuous",
    "schedule",
    "wait",
    "emails",
    "mount",
    "mem",
    "cpu",
    "replicas",
    "retry",
    "timeout",
    "filelog",
    "no-filelog",
    "filelog-stdout",
    "filelog-stderr",
    "port",
    "health-check-script",
    "health-check-http",
}


def yaml_blocks() -> list[str]:
    """The ```yaml blocks of docs/deploy.md."""
    return re.findall(r"```yaml\n(.*?)```", DEPLOY.read_text(), flags=re.DOTALL)


def documents(text: str) -> list[Any]:
    """Every YAML document of a text (multi-document files), empty ones left out."""
    return [document for document in yaml.safe_load_all(text) if document is not None]


def kubernetes_files() -> list[Path]:
    """The Kubernetes manifests."""
    return sorted(KUBERNETES.glob("*.yaml"))


def kubernetes_objects() -> list[tuple[str, dict[str, Any]]]:
    """(file name, object) for every object of deploy/kubernetes."""
    return [(path.name, obj) for path in kubernetes_files() for obj in documents(path.read_text())]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    """The objects of one kind by name."""
    return {obj["metadata"]["name"]: obj for _, obj in kubernetes_objects() if obj["kind"] == kind}


def containers_of(node: Any) -> Iterator[dict[str, Any]]:
    """Every container (and init container) anywhere in an object."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from value
            else:
                yield from containers_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from containers_of(item)


def all_containers() -> list[tuple[str, dict[str, Any]]]:
    """(id, container) for every container of the manifests."""
    return [
        (f"{name}:{obj['metadata']['name']}:{container['name']}", container)
        for name, obj in kubernetes_objects()
        for container in containers_of(obj)
    ]


# The Dockerfile, read as Docker reads it: comments dropped, continuation lines joined.


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, in order."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if line.strip()[:1] != "#"]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the image's (last) stage."""
    instructions = dockerfile()
    last = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last:]


def exec_form(keyword: str) -> list[str]:
    """The JSON (exec form) arguments of the final stage's last `keyword`."""
    (value, *_) = [rest for key, rest in reversed(final_stage()) if key == keyword]
    parsed = json.loads(value)
    assert isinstance(parsed, list), f"{keyword} is not in exec form: {value}"
    return [str(item) for item in parsed]


def container_argv(container: dict[str, Any]) -> list[str]:
    """What a container runs: its command, or the image's entrypoint with its args."""
    if "command" in container:
        return [*container["command"], *container.get("args", [])]
    return [*exec_form("ENTRYPOINT"), *container.get("args", exec_form("CMD"))]


# The Procfile and the command line.


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands."""
    entries = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def procfile_argv(command: str) -> list[str]:
    """A Procfile command as the shell runs it, with $PORT set."""
    expanded = re.sub(r"\$\{PORT(:-[0-9]+)?\}|\$PORT\b", PORT, command)
    assert "$" not in expanded, f"unexpanded variable in {command!r}"
    return shlex.split(expanded)


def parse_command_line(argv: list[str]) -> tuple[list[str], Any]:
    """Parse `wikiloom ...` as the real CLI would, without running it; return its path.

    Typer carries its own copy of Click, so groups are told apart by their `commands`.
    """
    assert argv[0] == "wikiloom", f"{argv} does not run wikiloom"
    command: Any = get_command(app)
    context = command.context_class(command, info_name="wikiloom")
    rest, path = list(argv[1:]), list[str]()
    while hasattr(command, "commands"):
        assert rest, f"{argv}: {' '.join(['wikiloom', *path])} needs a command"
        name, *rest = rest
        found = command.get_command(context, name)
        assert found is not None, f"{argv}: no command {name!r}"
        path.append(name)
        command = found
        context = command.context_class(command, info_name=name, parent=context)
    # Unknown options, missing arguments and bad values (a port that is no number) raise here.
    parsed = command.make_context(path[-1], rest, parent=context.parent)
    help_result = CliRunner().invoke(app, [*path, "--help"])
    assert help_result.exit_code == 0, help_result.output
    return path, parsed


def option(argv: list[str], name: str) -> str:
    """The value of an option given as `--name value` or `--name=value`."""
    for i, item in enumerate(argv):
        if item == name:
            return argv[i + 1]
        if item.startswith(name + "="):
            return item.split("=", 1)[1]
    raise AssertionError(f"{name} not in {argv}")


# .dockerignore, evaluated as Docker does: the last matching pattern wins, `!` re-includes,
# and a pattern matching a directory matches everything below it.


def _pattern(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignored(path: str) -> bool:
    """Tell whether .dockerignore keeps `path` out of the build context."""
    result = False
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        regex = _pattern(line.lstrip("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            result = not negate
    return result


def settings_names() -> set[str]:
    """Every WIKILOOM_* variable that is a setting."""
    return {f"WIKILOOM_{name.upper()}" for name in Settings.model_fields}


# The tests.


def test_the_inference_service_parses_and_runs_a_real_command() -> None:
    blocks = [document for block in yaml_blocks() for document in documents(block)]
    (service,) = [block for block in blocks if block.get("kind") == "InferenceService"]
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    assert service["kind"] == "InferenceService"
    (container,) = service["spec"]["predictor"]["containers"]
    program, command, *options = container["command"]
    assert program == "wikiloom"
    assert command in get_command(app).commands  # type: ignore[attr-defined]
    assert container["ports"][0]["containerPort"] == int(options[options.index("--port") + 1])
    names = {variable["name"] for variable in container["env"]}
    assert {"WIKILOOM_DATABASE_URL", "WIKILOOM_USER_AGENT"} <= names


def test_the_inference_service_of_the_docs_is_the_manifest() -> None:
    blocks = [document for block in yaml_blocks() for document in documents(block)]
    (documented,) = [block for block in blocks if block.get("kind") == "InferenceService"]
    (manifest,) = documents((KUBERNETES / "inferenceservice.yaml").read_text())
    assert documented == manifest


def test_every_yaml_file_and_block_parses() -> None:
    paths = [*sorted((ROOT / "deploy").rglob("*.yaml")), *sorted((ROOT / "deploy").rglob("*.yml"))]
    assert {path.name for path in paths} >= {"jobs.yaml", "web.yaml", "inferenceservice.yaml"}
    for path in paths:
        assert documents(path.read_text()), f"{path} has no document"
    for block in yaml_blocks():
        assert documents(block)


def test_every_kubernetes_object_has_a_kind_and_a_name() -> None:
    seen: set[tuple[str, str]] = set()
    for name, obj in kubernetes_objects():
        assert isinstance(obj, dict), name
        assert isinstance(obj.get("apiVersion"), str), name
        assert obj["apiVersion"], name
        assert isinstance(obj.get("kind"), str), name
        assert obj["kind"], name
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", obj["metadata"]["name"]), name
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in seen, f"{key} twice"
        seen.add(key)
    kinds = {kind for kind, _ in seen}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "Job", "InferenceService"} <= kinds


def test_the_kustomization_lists_every_manifest_applied_together() -> None:
    (kustomization,) = documents((KUBERNETES / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert all((KUBERNETES / resource).is_file() for resource in resources)
    # Applied on their own: the Secret is made from real values, the Job runs before a
    # rollout, and the InferenceService needs KServe.
    apart = {"kustomization.yaml", "secret.example.yaml", "migrate-job.yaml"}
    apart |= {"inferenceservice.yaml"}
    assert set(resources) == {path.name for path in kubernetes_files()} - apart
    assert [image["name"] for image in kustomization["images"]] == [IMAGE]


def test_the_workloads_select_their_pods() -> None:
    deployments = by_kind("Deployment")
    assert set(deployments) >= {"wikiloom-web", "wikiloom-worker", "wikiloom-scheduler"}
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    service = by_kind("Service")["wikiloom-web"]
    web_labels = deployments["wikiloom-web"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= web_labels.items()


def test_exactly_one_scheduler_ever_runs() -> None:
    scheduler = by_kind("Deployment")["wikiloom-scheduler"]
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"]["type"] == "Recreate"
    (job,) = [job for job in documents(JOBS.read_text())[0] if job["command"] == "scheduler"]
    assert job.get("replicas", 1) == 1


@pytest.mark.parametrize(
    ("where", "container"), [pytest.param(*pair, id=pair[0]) for pair in all_containers()]
)
def test_every_container_runs_a_real_wikiloom_command(
    where: str, container: dict[str, Any]
) -> None:
    assert container["image"].split(":")[0] == IMAGE, where
    parse_command_line(container_argv(container))


def test_every_container_has_requests_and_limits() -> None:
    for where, container in all_containers():
        resources = container["resources"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[kind]), f"{where}: {kind}"


def test_every_workload_runs_unprivileged() -> None:
    for name, obj in kubernetes_objects():
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name


def test_every_procfile_entry_runs_a_real_wikiloom_command() -> None:
    entries = procfile()
    assert {"web", "worker", "scheduler"} <= set(entries)
    for name, command in entries.items():
        assert re.fullmatch(r"[A-Za-z0-9_-]+", name), name
        parse_command_line(procfile_argv(command))
    web = procfile_argv(entries["web"])
    assert web[1] == "serve"
    assert option(web, "--host") == "0.0.0.0"
    assert "$PORT" in entries["web"] or "${PORT" in entries["web"]


def test_the_toolforge_jobs_run_procfile_entries_of_the_build_service_image() -> None:
    (jobs,) = documents(JOBS.read_text())
    entries = procfile()
    names = [job["name"] for job in jobs]
    assert len(names) == len(set(names))
    for job in jobs:
        assert set(job) <= JOB_KEYS, f"{job['name']}: {set(job) - JOB_KEYS}"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", job["name"])
        # The build service's image of the tool: tools-harbor's tool-<name>/tool-<name>.
        assert re.fullmatch(r"tool-([a-z0-9-]+)/tool-\1:latest", job["image"]), job["image"]
        # With a build-service image the command is a Procfile process type.
        (process,) = shlex.split(job["command"])
        assert process in entries, f"{job['name']}: no Procfile entry {process!r}"
        assert not (job.get("continuous") and job.get("schedule")), job["name"]
    by_command = {job["command"]: job for job in jobs}
    assert by_command["worker"]["continuous"] is True
    assert by_command["scheduler"]["continuous"] is True
    # The migration is a one-off job that the load waits for, before any other job.
    migrate = jobs[0]
    assert procfile_argv(entries[migrate["command"]])[1:] == ["db", "upgrade"]
    assert migrate["wait"] is True
    assert not migrate.get("continuous")
    assert "schedule" not in migrate
    assert procfile_argv(entries[by_command["precache"]["command"]])[1] == "precache"
    for job in jobs:
        if "schedule" in job:
            assert re.fullmatch(
                r"@(hourly|daily|weekly|monthly|yearly)|(\S+\s+){4}\S+", job["schedule"]
            )


def test_every_wikiloom_variable_named_is_a_setting() -> None:
    files = [DOCKERFILE, PROCFILE, DEPLOY, *sorted((ROOT / "deploy").rglob("*"))]
    known = settings_names()
    for path in files:
        if path.is_file():
            named = set(re.findall(r"\bWIKILOOM_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
            assert named <= known, f"{path.relative_to(ROOT)}: {sorted(named - known)}"


def test_the_secret_settings_come_from_the_secret() -> None:
    (config,) = by_kind("ConfigMap").values()
    secret = by_kind("Secret")["wikiloom"]
    assert set(config["data"]) <= settings_names()
    assert not set(config["data"]) & SECRET_SETTINGS
    # The example holds the layout, never a value.
    assert all(value == "" for value in secret["stringData"].values())
    for where, container in all_containers():
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] == config["metadata"]["name"], where
        for variable in container.get("env", []):
            if variable["name"] in SECRET_SETTINGS:
                assert "value" not in variable, f"{where}: {variable['name']} in clear"
                reference = variable["valueFrom"]["secretKeyRef"]
                assert reference["name"] == "wikiloom", where
                assert reference["key"] in secret["stringData"], where
    web = by_kind("Deployment")["wikiloom-web"]["spec"]["template"]["spec"]["containers"][0]
    assert {variable["name"] for variable in web["env"]} == SECRET_SETTINGS


def answers(paths: set[str], tmp_path: Path) -> dict[str, int]:
    """The status of GET `path` for each path, asked of `create_app` in process."""
    application = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'probes.db'}"))

    async def ask() -> dict[str, int]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            return {path: (await client.get(path)).status_code for path in sorted(paths)}

    return asyncio.run(ask())


def test_every_probe_and_the_healthcheck_ask_a_route_of_the_app(tmp_path: Path) -> None:
    probed = []
    for where, container in all_containers():
        ports = {port.get("name") for port in container.get("ports", [])}
        ports |= {port["containerPort"] for port in container.get("ports", [])}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe in container:
                request = container[probe]["httpGet"]
                assert request["port"] in ports, f"{where}: {probe} port {request['port']}"
                probed.append((where, probe, request["path"]))
    assert any(path == "/healthz" for *_, path in probed)
    web = [probe for where, probe, _ in probed if ":wikiloom-web:" in where]
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(web)
    (healthcheck,) = [rest for key, rest in final_stage() if key == "HEALTHCHECK"]
    (url,) = re.findall(r"https?://[^'\"\s]+", healthcheck)
    paths = {path for *_, path in probed} | {re.sub(r"^https?://[^/]+", "", url)}
    # An empty SQLite database answers `SELECT 1`: every probe is answered 200 by a route.
    assert answers(paths, tmp_path) == dict.fromkeys(sorted(paths), 200)


def test_the_ports_agree() -> None:
    (exposed,) = [int(rest.split("/")[0]) for key, rest in final_stage() if key == "EXPOSE"]
    default = [*exec_form("ENTRYPOINT"), *exec_form("CMD")]
    parse_command_line(default)
    assert default[1] == "serve"
    assert int(option(default, "--port")) == exposed
    assert option(default, "--host") == "0.0.0.0"
    deployment = by_kind("Deployment")["wikiloom-web"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    argv = container_argv(container)
    assert argv[1] == "serve"
    assert int(option(argv, "--port")) == exposed
    (service_port,) = by_kind("Service")["wikiloom-web"]["spec"]["ports"]
    target = service_port["targetPort"]
    by_name = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert by_name.get(target, target) == exposed
    assert procfile_argv(procfile()["web"])[-1] == PORT == str(exposed)


def test_the_dockerfile_builds_from_python_311_slim_and_runs_unprivileged() -> None:
    instructions = dockerfile()
    arguments = {
        rest.split("=", 1)[0]: rest.split("=", 1)[1]
        for key, rest in instructions
        if key == "ARG" and "=" in rest
    }
    for key, rest in instructions:
        if key == "FROM":
            image = rest.split()[0]
            image = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], image)
            assert image == "python:3.11-slim", rest
    assert sum(key == "FROM" for key, _ in instructions) >= 2  # a builder stage
    users = [rest for key, rest in final_stage() if key == "USER"]
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert exec_form("ENTRYPOINT") == ["wikiloom"]
    assert exec_form("CMD") == ["serve", "--host", "0.0.0.0", "--port", "8000"]


def test_the_dockerfile_installs_no_test_extras_and_bakes_no_secret() -> None:
    instructions = dockerfile()
    installs = [rest for key, rest in final_stage() if key == "RUN" and "pip install" in rest]
    assert installs, "the image installs nothing"
    for rest in instructions:
        keyword, text = rest
        if keyword == "RUN" and re.search(r"pip (install|wheel)", text):
            assert not re.search(r"\.\[|wikiloom\[|\[test\]|--editable|\s-e\s", text), text
            assert "test" not in text, text
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", text) or [text.split()[0]]
            for name in names:
                assert not re.search(r"SECRET|TOKEN|PASSWORD|KEY|DATABASE_URL", name), text
                assert not name.startswith("WIKILOOM_"), f"{text}: settings come at run time"
    # What the build copies is in the context; what must never be there is not.
    for keyword, text in instructions:
        if keyword == "COPY" and "--from" not in text:
            *sources, _ = text.split()
            for source in sources:
                assert not ignored(source.rstrip("/")), f"COPY {source} is ignored"
    assert not ignored("src/wikiloom/__init__.py")
    for path in (".env", "wikiloom.db", ".venv/bin/python", "tests/test_deploy.py"):
        assert ignored(path), path
    for path in ("node_modules/x/package.json", ".git/config", "exports/campaign-1.jsonl"):
        assert ignored(path), path
    assert ignored("src/wikiloom/__pycache__/cli.cpython-311.pyc")


def test_the_commands_of_the_deploy_page_exist() -> None:
    text = DEPLOY.read_text()
    blocks = re.findall(r"```(?:sh|shell|bash|console)\n(.*?)```", text, flags=re.DOTALL)
    commands = [
        line.strip().removeprefix("$ ")
        for block in blocks
        for line in re.sub(r"\\\n\s*", " ", block).splitlines()
        if line.strip().removeprefix("$ ").startswith("wikiloom ")
    ]
    assert commands
    for command in commands:
        parse_command_line(shlex.split(command.split(" #")[0]))
    # The page is the index of the deployment files.
    for path in [DOCKERFILE, DOCKERIGNORE, PROCFILE, JOBS, *kubernetes_files()]:
        assert str(path.relative_to(ROOT)) in text, f"docs/deploy.md never names {path.name}"
