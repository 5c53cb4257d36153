# syntax=docker/dockerfile:1
# The images of the deployment (docker-compose.yaml). Two targets:
#
#   airflow    (the default, last stage) what every Airflow component runs: apache/airflow 3.3.2 on Python 3.11,
#              the pipeline's runtime packages at the lock's versions, LibreOffice and metric-compatible fonts
#              for the PDFs, and dags/, plugins/, include/. No tests, no dev tools, no simulator.
#   simulator  the source-system simulator for the compose "demo" profile only: a stdlib program on plain
#              Python, in its own image so the Airflow image never carries it.
#
# Base: the "slim" variant of the official image (same release, same Python). The regular image adds some
# fifty providers (FAB, Google, Azure, ...) at Airflow's constraint versions, not ours; the slim one has
# Airflow alone, so what runs is what our lock (constraints.txt) says and the tests ran.

FROM python:3.11-slim-bookworm AS simulator
WORKDIR /opt/tthc
COPY simulator/ simulator/
COPY include/reference/ include/reference/
USER nobody
EXPOSE 8089
ENTRYPOINT ["python", "-m", "simulator", "--host", "0.0.0.0", "--port", "8089"]


FROM apache/airflow:slim-3.3.2-python3.11 AS airflow

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends libreoffice-writer-nogui fonts-liberation \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

# The runtime part of requirements.txt, every package at the lock's version; check_pins fails the build if an
# installed distribution differs from constraints.txt.
COPY --chown=airflow:0 constraints.txt include/docker/requirements-image.txt include/docker/check_pins.py /opt/tthc/
RUN pip install --no-cache-dir -r /opt/tthc/requirements-image.txt -c /opt/tthc/constraints.txt \
 && pip check \
 && python /opt/tthc/check_pins.py /opt/tthc/constraints.txt /opt/tthc/requirements-image.txt

# airflow-init's steps: the warehouse (database, role, Alembic revisions) and the admin's password.
COPY --chown=airflow:0 include/docker/init_warehouse.py include/docker/init_admin.py /opt/tthc/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/config/ /opt/airflow/include/config/
COPY --chown=airflow:0 include/inputs/ /opt/airflow/include/inputs/
COPY --chown=airflow:0 include/reference/ /opt/airflow/include/reference/
COPY --chown=airflow:0 include/templates/ /opt/airflow/include/templates/
ENV PYTHONPATH=/opt/airflow/plugins \
    TTHC_CONFIG=/opt/airflow/include/config/pipeline.yaml
