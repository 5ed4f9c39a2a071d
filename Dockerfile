# The user-code image that the official Dagster chart's user deployment runs (deploy/helm/values.yaml):
# the code location served by `dagster code-server start` on port 3030. The webserver and the daemon
# run Dagster's own images. Build: docker build --build-arg COMMIT=$(git rev-parse HEAD) --build-arg BUILD=<CI URL> .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The C passes are compiled at install; git is not needed (the commit comes in as a build argument).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY deploy/install.sh deploy/install.sh
COPY ci_assets ci_assets
# The same script `make install` runs, in its image mode: the locked dependencies and the package
# itself (not editable) into /opt/venv.
RUN PYTHON=python3.11 VENV=/opt/venv TOOLS=/opt/tools deploy/install.sh image
ARG COMMIT=unknown
ARG BUILD=local
ARG SOURCE=https://github.com/mozilla/ci_assets
# Dockerflow's version.json, served by Buildhub's /__version__ (CI_ASSETS_VERSION_FILE).
RUN /opt/venv/bin/ci-assets version --source "$SOURCE" --commit "$COMMIT" --build "$BUILD" > /src/version.json

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid app --create-home --home-dir /app app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/version.json /app/version.json
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    CI_ASSETS_ENV=cloud \
    CI_ASSETS_VERSION_FILE=/app/version.json \
    DAGSTER_HOME=/opt/dagster/dagster_home
# The chart's default dagsterHome; it mounts the instance's dagster.yaml there.
RUN mkdir -p /opt/dagster/dagster_home && chown app:app /opt/dagster/dagster_home
USER app
WORKDIR /app
EXPOSE 3030
CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "3030", "--module-name", "ci_assets.definitions"]
