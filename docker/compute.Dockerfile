# The compute image of the docker backend: the official PostgreSQL image, with pgvector and
# PgBouncer (each compute's pooler runs in its container, as /usr/sbin/pgbouncer).
#
#   docker build -f docker/compute.Dockerfile --build-arg PG_MAJOR=18 -t lampion/compute:18 .
#
# Lampion runs `postgres` itself in it (entrypoint /bin/sh, as the computes' OS user) over a
# data dir it made: the image's own entrypoint and initdb are not used. Build one image per
# PostgreSQL major the control plane offers; LAMPION_COMPUTE_IMAGE names them
# (default lampion/compute:{pg_version}). Without a registry, scripts/build-local-compute-image.sh
# builds the same kind of image from a PostgreSQL installed on the machine.
ARG PG_MAJOR=18
FROM postgres:${PG_MAJOR}-bookworm
ARG PG_MAJOR
RUN apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}-pgvector" pgbouncer \
    && rm -rf /var/lib/apt/lists/*
LABEL org.lampion.pg_version="${PG_MAJOR}"
CMD ["postgres", "--version"]
