# quiz-server in a container: a slim Python base, a non-root user, the SQLite
# store on a volume, a health check on /livez. With PostgreSQL: compose.yaml.
#   docker build -t quiz-actors .
#   docker run -p 8080:8080 -v quiz-data:/var/lib/quiz quiz-actors
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY eventstore ./eventstore
COPY quiz_actors ./quiz_actors
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 quiz \
    && useradd --system --uid 10001 --gid quiz --home-dir /var/lib/quiz --create-home quiz

# Everything the server writes lives on the volume; nothing else is writable by it.
# The user by number (quiz, made above), so orchestrators can tell it is not root.
VOLUME ["/var/lib/quiz"]
WORKDIR /var/lib/quiz
USER 10001:10001

ENV QUIZ_HOST=0.0.0.0 \
    QUIZ_PORT=8080 \
    QUIZ_STORE=sqlite:////var/lib/quiz/events.sqlite3 \
    QUIZ_LOG_FORMAT=json \
    QUIZ_DRAIN_GRACE_S=5
EXPOSE 8080

# docker stop sends SIGTERM and waits 10 s by default: the 5 s drain and the
# shutdown fit in it (give it more with --stop-timeout if you raise the grace).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('QUIZ_PORT', '8080') + '/livez', timeout=2)"]

ENTRYPOINT ["quiz-server"]
