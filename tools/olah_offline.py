"""olah (pinned in tools/hub_mirror.py) in offline mode, with one fix that makes it answer like the Hub.

Two answers differ from the Hub's for a repository of the local mirror, in olah 0.5.4 offline:

- a file or folder missing from it: olah answers 401 "Repository not found", the Hub 404 with
  ``X-Error-Code: EntryNotFound``. Clients probe optional files on every load
  (``added_tokens.json``, ``adapter_config.json``, the ``additional_chat_templates/`` folder...):
  transformers skips a missing entry but treats a missing repository as fatal;
- its model info without a revision (``/api/models/ORG/NAME``): olah answers 401, the Hub the
  info of ``main``.

This wrapper makes both answer as the Hub does, then starts olah's own command line. Run it with
the Python of olah's venv:

    .venv-hub/bin/python tools/olah_offline.py -c configs.toml
"""

from __future__ import annotations

import functools
import sys


def _patch() -> None:
    from olah import server_api_routes, server_file_routes
    from olah.errors import error_entry_not_found
    from olah.server_access import build_repo_ref
    from olah.server_mirror import has_local_mirror

    def hub_like(handler):
        @functools.wraps(handler)
        async def wrapped(app, repo_type, org, repo, *args, **kwargs):
            response = await handler(app, repo_type, org, repo, *args, **kwargs)
            if (
                response.status_code == 401
                and app.state.app_settings.config.offline
                and has_local_mirror(app, build_repo_ref(repo_type, org, repo))
            ):
                return error_entry_not_found()
            return response

        return wrapped

    latest_commit = server_api_routes.get_latest_commit

    async def latest_commit_or_main(app, repo_ref, *args, **kwargs):
        commit = await latest_commit(app, repo_ref, *args, **kwargs)
        if commit is None and has_local_mirror(app, repo_ref):
            return "main"
        return commit

    # The route functions look these up as module globals at call time.
    server_api_routes.get_latest_commit = latest_commit_or_main
    server_file_routes.file_head_common = hub_like(server_file_routes.file_head_common)
    server_file_routes.file_get_common = hub_like(server_file_routes.file_get_common)
    server_api_routes.tree_proxy_common = hub_like(server_api_routes.tree_proxy_common)


if __name__ == "__main__":
    _patch()
    from olah.server import cli

    sys.argv[0] = "olah-cli"
    cli()
