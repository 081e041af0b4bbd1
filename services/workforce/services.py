"""`workforce-service <name>`: the one entry point every container runs (one command per service)."""

import argparse
import importlib

# service name → module with `main()`; worker-<type> and role-<role> are resolved from their suffix.
SERVICES = {
    "gateway": "workforce.gateway.main",
    "planner": "workforce.planner.main",
    "coordinator": "workforce.coordinator.main",
    "model-server": "workforce.modelserver.main",
    "sandbox": "workforce.sandbox.main",  # the code worker's sandbox executor
    "browser": "workforce.browser.main",  # the web worker's Chromium (Playwright's browser server)
}
WORKER_TYPES = ("web", "document", "code", "tool", "echo")
ROLES = ("planner", "caller", "summarizer", "reflect", "plan", "tool")


def names() -> list[str]:
    return [*SERVICES, *(f"worker-{t}" for t in WORKER_TYPES), *(f"role-{r}" for r in ROLES)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workforce-service", description="Run one Workforce service.")
    parser.add_argument("name", choices=names())
    args = parser.parse_args(argv)
    if args.name.startswith("worker-"):
        from .workers.main import main as worker_main

        worker_main(args.name.removeprefix("worker-"))
    elif args.name.startswith("role-"):
        from .roles.main import main as role_main  # built by the tool-learning issue

        role_main(args.name.removeprefix("role-"))
    else:
        importlib.import_module(SERVICES[args.name]).main()


if __name__ == "__main__":
    main()
