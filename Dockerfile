# syntax=docker/dockerfile:1
# One Dockerfile, three images: the services are the same code with a different settings
# module, chosen by the target:
#   docker build --target verbs      -t wordmix-verbs:$VERSION .
#   docker build --target nouns      -t wordmix-nouns:$VERSION .
#   docker build --target aggregator -t wordmix-aggregator:$VERSION .
# (`make images` builds all three with docker, podman or buildah.) Everything up to the
# `runtime` stage is shared, so it is built once and the three images share those layers.
#
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret; pip uses it only
# when present, so the same file builds anywhere:
#   --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt

ARG DEBIAN_IMAGE=docker.io/library/debian:trixie-slim

# ---------------------------------------------------------------------------------------
# build: a virtualenv with the locked dependencies, the app, and its collected static files.
# checkov:skip=CKV_DOCKER_7:the base is the ARG above, debian:trixie-slim, a release tag; checkov does not resolve ARGs
FROM ${DEBIAN_IMAGE} AS build

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# Debian trixie's python3 is 3.13, the version the project is tested with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && apt-get clean && rm -rf /var/lib/apt/lists/*

RUN python3 -m venv /opt/venv

# Only the hashed lock file: every package pinned and verified, nothing resolved here. All
# dependencies are pure Python or manylinux wheels, so no compiler is needed, even here.
COPY requirements/base.txt /tmp/requirements.txt
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && /opt/venv/bin/pip install --require-hashes --no-deps --only-binary=:all: \
        -r /tmp/requirements.txt \
    && /opt/venv/bin/pip uninstall -y pip \
    && rm /tmp/requirements.txt

WORKDIR /app
COPY manage.py serve.py ./
COPY wordmix ./wordmix
COPY verbs ./verbs
COPY nouns ./nouns
COPY aggregator ./aggregator

# Static files are collected now, so the running container never writes to its filesystem;
# whitenoise serves the collected copies, which makes the packages' own static directories
# dead weight, like the translation sources (.po; Django reads the compiled .mo files) and
# the compiled catalogs of every language but English: the services speak only LANGUAGE_CODE
# (en-us; no LocaleMiddleware), and the ~9 MB they take pay for most of granian's 22 MB.
# Bytecode is compiled now for the same reason (and a faster start). The `collect` settings
# install every service's apps, so one run writes one manifest that serves all three images;
# the key exists only for this command (production settings refuse to load without one).
# Redoc is left out: the docs page is Swagger UI, and Redoc's bundle is never routed.
RUN DJANGO_SETTINGS_MODULE=wordmix.settings.collect \
    DJANGO_SECRET_KEY=collectstatic-at-build-time-only \
    /opt/venv/bin/python manage.py collectstatic --noinput -v 0 --ignore 'redoc*' \
    && site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
    && rm -rf "$site/django/contrib/admin/static" "$site/rest_framework/static" \
        "$site/drf_spectacular_sidecar/static" \
    && find "$site" -name '*.po' -delete \
    && find "$site" -path '*/locale/*' -name '*.mo' ! -path '*/locale/en/*' -delete \
    && /opt/venv/bin/python -m compileall -q /app

# ---------------------------------------------------------------------------------------
# runtime: the Python interpreter and nothing else from the distribution.
FROM ${DEBIAN_IMAGE} AS runtime

# python3 only (no pip, no compiler); the downloaded packages, apt lists and logs go in the
# same layer (Debian's official image cleans the first itself; other bases may not).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
    && groupadd --system --gid 10001 wordmix \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin wordmix

# Owned by root and not writable by the app's user: even with a writable root filesystem
# the service could not change its own code.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

# MALLOC_ARENA_MAX: glibc gives each thread its own malloc arena by default; with the server's
# threads that fragments memory the 128 MiB limit cannot spare.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    PORT=8000

# Last in the stage: a new VERSION must not invalidate the cached layers above. The RUN
# records the version in the image and, using the arguments, makes the layer cache key on
# them: buildah (podman build) keys a LABEL step on its text, not on the values in it, and
# would otherwise keep the previous build's labels.
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE_URL=""
RUN printf 'version=%s\nrevision=%s\nsource=%s\n' "$VERSION" "$REVISION" "$SOURCE_URL" \
    > /app/VERSION
LABEL org.opencontainers.image.vendor="wordmix" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.base.name="docker.io/library/debian:trixie-slim"

WORKDIR /app
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM

# Docker (and podman with docker-format images) use this; Kubernetes uses its own probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]

# Exec form: the server (granian, configured by serve.py and WORDMIX_SERVER_*) is PID 1 and
# receives SIGTERM itself (graceful stop of its worker within WORDMIX_SERVER_GRACEFUL_TIMEOUT).
ENTRYPOINT ["/opt/venv/bin/python", "/app/serve.py"]

# ---------------------------------------------------------------------------------------
# One target per service: a label and the settings module, nothing else.
FROM runtime AS verbs
LABEL org.opencontainers.image.title="wordmix-verbs" \
      org.opencontainers.image.description="wordmix verbs service: REST API and admin for the list of verbs"
ENV DJANGO_SETTINGS_MODULE=wordmix.settings.verbs

FROM runtime AS nouns
LABEL org.opencontainers.image.title="wordmix-nouns" \
      org.opencontainers.image.description="wordmix nouns service: REST API and admin for the list of nouns"
ENV DJANGO_SETTINGS_MODULE=wordmix.settings.nouns

FROM runtime AS aggregator
LABEL org.opencontainers.image.title="wordmix-aggregator" \
      org.opencontainers.image.description="wordmix aggregator: a random verb and noun from the two word services, API and web page"
ENV DJANGO_SETTINGS_MODULE=wordmix.settings.aggregator
