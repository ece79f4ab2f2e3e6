"""The deployment manifests in docs/deploy.md parse and name commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.main import get_command

from wikiloom.cli import app

DEPLOY = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"


def test_the_inference_service_parses_and_runs_a_real_command() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DEPLOY.read_text(), flags=re.DOTALL)
    (service,) = [yaml.safe_load(block) for block in blocks]
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    assert service["kind"] == "InferenceService"
    (container,) = service["spec"]["predictor"]["containers"]
    program, command, *options = container["command"]
    assert program == "wikiloom"
    assert command in get_command(app).commands  # type: ignore[attr-defined]
    assert container["ports"][0]["containerPort"] == int(options[options.index("--port") + 1])
    names = {variable["name"] for variable in container["env"]}
    assert {"WIKILOOM_DATABASE_URL", "WIKILOOM_USER_AGENT"} <= names
