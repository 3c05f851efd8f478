# changegate serve: the GitHub App for custom deployment protection rules (docs/app.md).
#   docker build -t changegate-app .
#   docker run -p 8000:8000 -e CHANGEGATE_APP_ID=... -e CHANGEGATE_WEBHOOK_SECRET=... \
#     -e CHANGEGATE_APP_PRIVATE_KEY_FILE=/run/secrets/app.pem -v ...:/run/secrets/app.pem:ro \
#     -v changegate-state:/var/lib/changegate changegate-app
FROM python:3.12-slim

# git fetches the repositories' default branches into bare mirrors
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/changegate
COPY pyproject.toml README.md ./
COPY requirements/constraints.txt requirements/constraints.txt
COPY engine engine
COPY policies policies
COPY schemas schemas
# the versions the tests ran with, and the server libraries (the extra "app")
RUN pip install --no-cache-dir -c requirements/constraints.txt '.[app]'

RUN useradd --system --create-home --home-dir /var/lib/changegate changegate
USER changegate
WORKDIR /var/lib/changegate
ENV CHANGEGATE_STATE=/var/lib/changegate/state.sqlite3 \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/changegate"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# SIGTERM (docker stop) stops it gracefully; what is queued or waiting stays in the volume
ENTRYPOINT ["changegate", "serve", "--host", "0.0.0.0", "--port", "8000"]
