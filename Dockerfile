# The project's Airflow image: Airflow 3.3.2 (Python 3.11) with our pinned packages, LibreOffice for
# the PDFs, and Liberation fonts (metric-compatible with Times New Roman) so PDF layout matches Word.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends libreoffice-writer-nogui fonts-liberation poppler-utils \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root requirements.txt constraints.txt /opt/tthc/
RUN pip install --no-cache-dir -r /opt/tthc/requirements.txt -c /opt/tthc/constraints.txt

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root simulator/ /opt/airflow/simulator/
ENV PYTHONPATH=/opt/airflow/plugins:/opt/airflow \
    TTHC_CONFIG=/opt/airflow/include/config/pipeline.yaml
