# One image for the three services and the printer emulator: `ektp serve request|inventory|gateway`,
# `ektp emulator …`, `ektp migrate …`. Built by docker-compose.yml.
# The base image is a build argument so that an office behind a registry mirror can name its own copy.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EKTP_MIGRATIONS_ROOT=/app

WORKDIR /app
# The dependencies first, named by pyproject.toml alone: a change to the code rebuilds only the layers after them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY README.md alembic.ini ./
COPY services ./services
COPY drivers ./drivers
COPY migrations ./migrations
# A fixed gid as well as uid: compose gives the service tokens and the database password file to group 10001.
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && groupadd --system --gid 10001 ektp \
    && useradd --system --uid 10001 --gid ektp --home /app ektp \
    && mkdir -p /app/data/emulator \
    && chown -R ektp /app/data
# Card printers on a serial or USB port: add the user to the dialout group and pass the device through
# (`devices: ["/dev/ttyUSB0:/dev/ttyUSB0"]` on the gateway service).
RUN usermod -aG dialout ektp
USER ektp

EXPOSE 8001 8002 8003 9101 9201
CMD ["ektp", "--help"]
