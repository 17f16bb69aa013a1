# syntax=docker/dockerfile:1
# road-closure-bot: the `roadbot` command on a slim Python 3.12, as an unprivileged user.
#   docker build -t road-closure-bot .                       (the PostgreSQL driver included)
#   docker build --build-arg EXTRAS=postgres,routing -t …    (and the embedded Valhalla router)
# The first stage builds the project's wheel and its dependencies' wheels from the source; the second
# installs from those wheels only, so the image holds no source tree, no compiler and no pip cache.

FROM python:3.12-slim AS wheels
ARG EXTRAS=postgres
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels ".[${EXTRAS}]"

FROM python:3.12-slim
ARG EXTRAS=postgres
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels "road-closure-bot[${EXTRAS}]"
RUN useradd --system --user-group --uid 10001 --home-dir /srv/roadbot --create-home \
    --shell /usr/sbin/nologin roadbot
WORKDIR /srv/roadbot
# numeric, so that orchestrators can check that it is not root (runAsNonRoot)
USER 10001:10001
EXPOSE 8080
# slim has no curl: Python asks /health, which answers 503 when the database does not (urlopen raises)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('WEB_PORT', '8080'), timeout=4)"
# Logs go to stderr (`docker compose logs`); SIGTERM stops the bot cleanly.
ENTRYPOINT ["roadbot"]
CMD ["run"]
