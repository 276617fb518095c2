# One image for the web app, the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --system --home /app portal && mkdir -p /app/.data && chown portal /app/.data
USER portal

EXPOSE 8000
CMD ["gunicorn", "proactive_portal.wsgi", "--config", "python:proactive_portal.gunicorn_conf"]
