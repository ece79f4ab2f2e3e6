# syntax=docker/dockerfile:1
# wikiloom's one image (docs/deploy.md): `wikiloom serve` by default; `worker`, `scheduler`,
# `precache` or `db upgrade` as the container's arguments. No settings and no secrets are
# baked in: every setting is a WIKILOOM_* environment variable given at run time.
#
#   docker build -t wikiloom:0.1.0 .
#   docker run --rm -p 8000:8000 -e WIKILOOM_DATABASE_URL=... wikiloom:0.1.0
#   docker run --rm --no-healthcheck -e ... wikiloom:0.1.0 worker

ARG PYTHON_IMAGE=python:3.11-slim

# Builder: every dependency as a wheel. face_recognition_models is published only as a
# 100 MB sdist: it is built here, in its own layer, so that code changes do not rebuild it.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
RUN pip wheel --wheel-dir /wheels "face_recognition_models>=0.3"
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels --find-links /wheels .

# Runtime: the wheels installed (no test extras, no compiler), run by an unprivileged user.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="wikiloom" \
      org.opencontainers.image.description="Human-in-the-loop machine learning for Wikimedia wikis" \
      org.opencontainers.image.licenses="MIT"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN groupadd --system --gid 10001 wikiloom \
    && useradd --system --uid 10001 --gid wikiloom --create-home \
       --home-dir /var/lib/wikiloom --shell /usr/sbin/nologin wikiloom
# The wheels are bind-mounted from the builder, so they take no layer of this image. Nothing
# comes from an index here (--no-index): wikiloom is the wheel just built from this source.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels wikiloom
# The working directory holds what the defaults write: the SQLite database (wikiloom.db),
# the job queue of the embedded default, exports/ and the scheduler's wikiloom-schedule.
WORKDIR /var/lib/wikiloom
USER 10001:10001
EXPOSE 8000
# `serve` answers /healthz (200 when its database answers, 503 otherwise) on the port of the
# default command. Containers that run `worker` or `scheduler` serve no HTTP: start them with
# --no-healthcheck (a different --port needs its own --health-cmd).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["wikiloom"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
