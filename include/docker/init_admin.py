"""airflow-init (docker-compose.yaml): the password of the simple auth manager's admin, from ``.env``.

Airflow 3's simple auth manager (the auth manager of this deployment: the FAB provider is not in our lock)
creates no user from ``_AIRFLOW_WWW_USER_*``: its users are ``[core] simple_auth_manager_users``
(``name:role``) and their passwords are read from ``[core] simple_auth_manager_passwords_file``, a JSON object
``{"name": "password"}`` that the API server opens for writing (so it cannot be a read-only secret mount).
This writes that file on the shared config volume with the password of ``.env``, mode 0600, every time
``airflow-init`` runs: changing the password in ``.env`` and running ``airflow-init`` again changes it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> int:
    username = os.environ.get("_AIRFLOW_WWW_USER_USERNAME", "").strip()
    password = os.environ.get("_AIRFLOW_WWW_USER_PASSWORD", "")
    users = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "")
    target = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "")
    if not username or len(password) < 12:
        print("init_admin: set _AIRFLOW_WWW_USER_USERNAME and a _AIRFLOW_WWW_USER_PASSWORD of 12 characters or more",
              file=sys.stderr)
        return 1
    names = [entry.split(":")[0].strip() for entry in users.split(",") if entry.strip()]
    if username not in names or not target:
        print(f"init_admin: {username!r} must be one of AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS ({users!r}) and "
              "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE must be set", file=sys.stderr)
        return 1
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    passwords = {}
    if path.is_file() and path.read_text(encoding="utf-8").strip():
        passwords = json.loads(path.read_text(encoding="utf-8"))
    passwords = {name: value for name, value in passwords.items() if name in names}  # users removed: no login
    passwords[username] = password
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(json.dumps(passwords) + "\n")
    os.replace(temporary, path)
    print(f"init_admin: password of {username!r} written to {path} (users: {', '.join(sorted(passwords))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
