# syntax=docker/dockerfile:1.7
# The image of any service. Build from the repository root, which holds the uv workspace, with the
# service's build arguments (read from the code: `make image SERVICE=routing` passes them), e.g.
#   docker build $(uv run python deploy/k8s/image_args.py routing) -t customer-agent/routing .
# (.dockerignore trims the context to what the images build from.)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- console assets: admin-api's pinned browser libraries of package-lock.json (npm checks their integrity);
# built once and cached, copied into every build so that one Dockerfile serves every service -------------
FROM ${NODE_IMAGE} AS console-assets
WORKDIR /console
COPY services/admin-api/console/package.json services/admin-api/console/package-lock.json services/admin-api/console/build.sh ./
RUN CONSOLE_ASSETS_OUT=/assets bash build.sh --force

# --- build: resolve the locked dependencies into a self-contained virtualenv -----------------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY . .
COPY --from=console-assets /assets services/admin-api/src/admin_api/entrypoints/console/static/vendor
# The service's build arguments (distribution, console script, settings prefix, HTTP port) come
# this late so that every service's build shares the layers above.
ARG DISTRIBUTION
ARG SCRIPT
ARG ENV_PREFIX
ARG PORT
RUN for name in DISTRIBUTION SCRIPT ENV_PREFIX PORT; do \
      [ -n "$(printenv "$name")" ] || { echo "missing --build-arg $name (make image SERVICE=<name> passes them)" >&2; exit 1; }; \
    done
# --no-editable installs the service and shared/ as wheels, so the venv needs no source tree;
# bytecode is compiled now because the root filesystem is read-only at run time. The entrypoint's
# fixed name links to the service's console script (an exec-form ENTRYPOINT cannot expand arguments).
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "${DISTRIBUTION}" \
    && ln -s "${SCRIPT}" /app/.venv/bin/customer-agent-service

# --- runtime: the virtualenv on a slim Python, as an unprivileged user ----------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
# The Debian packages the service reads at run time ([tool.customer-agent] debian-packages in its
# pyproject, comma-separated by image_args.py; conversation's bilingual dictionaries), installed as root
# before the virtualenv, which changes more often; none for most services.
ARG DEBIAN_PACKAGES=""
RUN if [ -n "${DEBIAN_PACKAGES}" ]; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(echo "${DEBIAN_PACKAGES}" | tr ',' ' ') \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /app/.venv /app/.venv
ARG ENV_PREFIX
ARG PORT
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ${ENV_PREFIX}HTTP_HOST=0.0.0.0
WORKDIR /app
USER 10001:10001
EXPOSE ${PORT}
ENTRYPOINT ["customer-agent-service"]
CMD ["serve"]
