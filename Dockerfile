# One image for every Python part of the playground (producer, consumer, provision, web): Compose
# runs it with different commands. Dependencies come from uv.lock, nothing else.
#
# PYTHON_IMAGE: the official image by default; `make images` swaps in one built from Debian
# packages on machines without a registry (see infra/images/).
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# Third-party dependencies first, in their own layer: code changes do not reinstall them.
COPY pyproject.toml uv.lock ./
COPY services/common/pyproject.toml services/common/
COPY services/producer/pyproject.toml services/producer/
COPY services/consumer/pyproject.toml services/consumer/
COPY services/watch/pyproject.toml services/watch/
COPY services/web/pyproject.toml services/web/
COPY services/chaos/pyproject.toml services/chaos/
COPY services/bench/pyproject.toml services/bench/
COPY infra/provision/pyproject.toml infra/provision/
RUN /opt/uv/bin/uv sync --locked --no-default-groups --no-install-workspace
COPY services services
COPY infra/provision infra/provision
RUN /opt/uv/bin/uv sync --locked --no-default-groups --no-editable

FROM ${PYTHON_IMAGE}
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin app
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER app
WORKDIR /home/app
CMD ["consumer"]
