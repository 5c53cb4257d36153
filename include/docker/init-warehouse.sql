-- The metrics warehouse beside Airflow's metadata database (docker-compose only).
CREATE DATABASE tthc OWNER airflow;
