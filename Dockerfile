# Hookloupe production image: gunicorn through `hookloupe serve`, SQLite in the instance/ volume
# unless HOOKLOUPE_DATABASE_URL points at PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOOKLOUPE_INSTANCE_PATH=/app/instance

WORKDIR /app
COPY pyproject.toml README.md app.py ./
COPY inspector ./inspector
COPY templates ./templates
COPY static ./static
RUN pip install . \
    && useradd --system --create-home --uid 10001 hookloupe \
    && mkdir -p /app/instance && chown hookloupe:hookloupe /app/instance

USER hookloupe
VOLUME ["/app/instance"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"

CMD ["hookloupe", "serve", "--host", "0.0.0.0", "--port", "8000"]
