"""Face pages: the projects with a new-project form (`/ui/faces/`), a project with its
estimated precision, the model's matches and "Send edits to Commons" (`/ui/faces/<id>/`),
and the keyboard-first classify page (`/ui/faces/<id>/classify`).

The pages' script (`static/ui/faces.js`) calls the JSON API of `wikiloom.http.faces`; the
pages only say who may do what (logged in, a member, an owner).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from wikiloom.errors import NotFound
from wikiloom.faces import projects
from wikiloom.faces.tables import PROJECT_STATES
from wikiloom.http.deps import in_transaction
from wikiloom.http.faces import PAGE
from wikiloom.http.faces_objects import match_page
from wikiloom.http.identity import session_user
from wikiloom.http.messages import Messages
from wikiloom.http.rendering import page_language, render

router = APIRouter(include_in_schema=False)
PREFIX = "wikiloom-faces-"


def _login_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/auth/initiate/?next=" + quote(here, safe="")


def _config(request: Request, **values: Any) -> dict[str, Any]:
    language = page_language(request)
    messages: Messages = request.app.state.messages
    return {"lang": language, "messages": messages.bundle(language, PREFIX), **values}


def _user_id(request: Request) -> int | None:
    user = session_user(request)
    return None if user is None else int(user["id"])


def _page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """Render a face page; its images may come from the configured test hosts too."""
    response = render(request, template, context, status=status)
    hosts = request.app.state.settings.face_image_hosts
    if hosts:
        extra = "".join(f" http://{host} https://{host}" for host in hosts)
        policy = response.headers["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = policy.replace(
            "img-src 'self' data: https:", "img-src 'self' data: https:" + extra, 1
        )
    return response


def _missing(request: Request, message: str) -> HTMLResponse:
    return _page(request, "faces/missing.html", {"message": message}, status=404)


@router.get("/ui/faces/", response_class=HTMLResponse)
async def projects_page(request: Request) -> HTMLResponse:
    """Every face project with its progress, and the form that creates one."""

    def work(session: Session) -> list[dict[str, Any]]:
        return [
            projects.project_json(found, projects.progress(session, found.id))
            for found in projects.list_projects(session)
        ]

    rows = await in_transaction(request, work)
    context = {
        "projects": rows,
        "login_url": _login_url(request),
        "max_depth": projects.MAX_DEPTH,
        "config": _config(request, page="projects"),
    }
    return _page(request, "faces/projects.html", context)


def _project_page(session: Session, project_id: int, user_id: int | None) -> dict[str, Any]:
    found = projects.get_project(session, project_id)
    role = projects.role_of(session, project_id, user_id)
    return {
        "project": projects.project_json(found, projects.progress(session, project_id)),
        "role": role,
        "matches": match_page(session, project_id, 0, PAGE) if role else None,
    }


@router.get("/ui/faces/{project_id:int}/", response_class=HTMLResponse)
async def project_page(request: Request, project_id: int) -> HTMLResponse:
    """A project: progress, threshold and estimated precision, "Send edits to Commons", the
    model's matches to approve or reject, settings and encodings for its owners."""
    user_id = _user_id(request)
    try:
        page = await in_transaction(request, lambda s: _project_page(s, project_id, user_id))
    except NotFound as error:
        return _missing(request, error.message)
    threshold = page["project"]["threshold"] or {}
    context = {
        **page,
        "threshold": threshold,
        "states": PROJECT_STATES,
        "login_url": _login_url(request),
        "config": _config(request, page="project", projectId=project_id),
    }
    return _page(request, "faces/project.html", context)


@router.get("/ui/faces/{project_id:int}/classify", response_class=HTMLResponse)
async def classify_page(request: Request, project_id: int) -> HTMLResponse:
    """Answer a project's faces one image at a time, keyboard first."""
    user_id = _user_id(request)

    def work(session: Session) -> dict[str, Any]:
        found = projects.get_project(session, project_id)
        return {
            "project": projects.project_json(found),
            "role": projects.role_of(session, project_id, user_id),
        }

    try:
        page = await in_transaction(request, work)
    except NotFound as error:
        return _missing(request, error.message)
    context = {
        **page,
        "login_url": _login_url(request),
        "config": _config(request, page="classify", projectId=project_id),
    }
    return _page(request, "faces/classify.html", context)
