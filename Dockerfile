# peercoach: the bot, its web endpoints and background workers in one image.
#   docker build -t peercoach .
#   docker run --rm --env-file .env peercoach peercoach db upgrade     # migrations: a one-shot step
#   docker run -d -p 8000:8000 --env-file .env peercoach               # then the server
# tests/deploy/test_container.py runs this file's build commands and its CMD in a fresh virtual environment.

ARG PYTHON_IMAGE=python:3.12-slim

# -- build: a wheel of this repository, installed with the server extra into a virtual environment ----------
FROM ${PYTHON_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV VIRTUAL_ENV=/opt/venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY teams_app/ teams_app/
COPY lrs_bridge/ lrs_bridge/
RUN python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" wheel --no-deps --wheel-dir dist . \
    && "$VIRTUAL_ENV/bin/pip" install "$(ls dist/peercoach-*.whl)[server]"

# -- runtime: the virtual environment only, a non-root user, the port from the environment ---------------
FROM ${PYTHON_IMAGE} AS runtime
ENV VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    PEERCOACH_HOST=0.0.0.0 \
    PEERCOACH_SERVER__LOG_FORMAT=json \
    PEERCOACH_SERVER__MIGRATE_ON_START=false
RUN useradd --system --uid 10001 --create-home --home-dir /app peercoach
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER 10001
EXPOSE 8000
# Shell form only to read $PORT (App Service and Container Apps set it); exec keeps SIGTERM for peercoach.
CMD ["/bin/sh", "-c", "exec peercoach serve --host \"$PEERCOACH_HOST\" --port \"$PORT\""]
