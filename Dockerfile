# syntax=docker/dockerfile:1
# alice-report-ingestor: a uv-locked, three-stage image.
#   base         the pinned slim Python both later stages share (the venv's interpreter symlinks
#                point into it, so builder and runtime must be the same image)
#   builder      uv installs the locked runtime dependencies, then the service as a wheel
#   runtime      the venv, the migrations and alembic.ini; no uv, no sources, no emulator
# Build: docker build -t alice-report-ingestor .   (see deploy/compose.yaml and deploy/k8s/)

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1

FROM base AS builder
# uv pinned to the version that wrote uv.lock; copied from its distroless image (no pip, no curl).
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first, from the lockfile alone: this layer survives every source-only change.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-editable --no-install-project
# Then the service itself, installed as a wheel into the venv (hatch packages only `service/`).
COPY pyproject.toml uv.lock README.md ./
COPY service/ service/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM base AS runtime
LABEL org.opencontainers.image.title="alice-report-ingestor" \
      org.opencontainers.image.description="Alice Onboarding reports from Kafka to PostgreSQL, derived state changes back to Kafka."
# A numeric, login-less user: Kubernetes' runAsNonRoot can verify a numeric UID only.
RUN groupadd --system --gid 10001 ingestor \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin ingestor
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY migrations/ /app/migrations/
COPY alembic.ini /app/alembic.ini
# The service is installed in site-packages, so the migrations are not beside the package:
# service/store/migrate.py reads their location from MIGRATIONS_DIR.
ENV PATH="/app/.venv/bin:${PATH}" \
    MIGRATIONS_DIR=/app/migrations \
    HTTP_PORT=8080
USER 10001:10001
EXPOSE 8080
# No HEALTHCHECK: Kubernetes ignores it and probes /health/live, /health/ready and the startup
# probe itself (deploy/k8s/base/deployment.yaml); deploy/compose.yaml declares its own check.
ENTRYPOINT ["python", "-m", "service"]
CMD ["run"]
