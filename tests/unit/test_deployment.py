"""docker-compose.yml cannot be run here (no container runtime in CI), so these checks keep
it consistent with the process set-up the other tests run: the same commands as the
Procfile, only settings that exist (and are documented in .env.example), Redis and
PostgreSQL shared as the multi-instance notes say, and nginx in front of every gateway."""

from __future__ import annotations

import re

import yaml

from redress.settings import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
PROCFILE = dict(
    line.split(": ", 1)
    for line in (REPO_ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    if line.strip()
)
DOCUMENTED = set(
    re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text("utf-8"), re.M)
)
# Set by the images or for the containers only, and not read by our settings.
CONTAINER_ONLY = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "ACTION_SERVER_URL"}


def _of(prefix: str) -> dict[str, dict]:
    return {name: s for name, s in SERVICES.items() if name.startswith(prefix)}


def test_the_services_run_the_procfile_commands() -> None:
    assert " ".join(SERVICES["actions"]["command"]).endswith(PROCFILE["actions"].split("/")[-1])
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD [".venv/bin/python", "-m", "bot"]' in dockerfile  # Procfile: gateway
    assert PROCFILE["gateway"].endswith("-m bot")
    assert 'CMD ["scripts/run-rasa"]' in dockerfile and PROCFILE["rasa"] == "scripts/run-rasa"
    for target in ("rasa", "app"):
        assert f" AS {target}\n" in dockerfile


def test_the_rasa_image_has_the_lock_store_run_rasa_names() -> None:
    rasa_stage = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8").split(" AS rasa\n")[1]
    rasa_stage = rasa_stage.split("\nFROM ")[0]
    module = re.search(
        r"type: (rasa_addons[\w.]*)\.\w+", (REPO_ROOT / "scripts/run-rasa").read_text()
    )
    assert module, "scripts/run-rasa names our lock store"
    assert (REPO_ROOT / (module.group(1).replace(".", "/") + ".py")).is_file()
    assert "COPY rasa_addons rasa_addons" in rasa_stage


def test_every_setting_used_is_documented() -> None:
    used: set[str] = set()
    for service in SERVICES.values():
        environment = service.get("environment") or {}
        used |= set(environment) if isinstance(environment, dict) else set()
    assert used - CONTAINER_ONLY <= DOCUMENTED, used - CONTAINER_ONLY - DOCUMENTED


def test_several_rasa_servers_and_gateways_share_redis_and_postgres() -> None:
    rasas, gateways = _of("rasa-"), _of("gateway-")
    assert len(rasas) >= 2 and len(gateways) >= 2
    for service in [*rasas.values(), *gateways.values()]:
        environment = service["environment"]
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")
    # Each gateway has its own Rasa server.
    assert {g["environment"]["RASA_URL"] for g in gateways.values()} == {
        f"http://{name}:5005" for name in rasas
    }


def test_nginx_balances_every_gateway_with_websockets() -> None:
    conf = (REPO_ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    for name in _of("gateway-"):
        assert f"server {name}:8080" in conf
    assert "proxy_set_header Upgrade $http_upgrade" in conf
    assert "X-Forwarded-For" in conf
