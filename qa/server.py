"""One server: the HTTP API under /v1 and, unless headless, the Gradio chat at /.

Used by `python app.py` and `qa serve`. Listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from .api import Collections

logger = logging.getLogger(__name__)


def build(collections: Collections, api_key: str | None = None, ui: Any = None,
          auth: tuple[str, str] | None = None, **ui_options: Any) -> Any:
    """The ASGI app: /v1 and /healthz, plus the Gradio Blocks `ui` mounted at /.

    Args:
        collections: the indexes to serve (the default one, and QA_COLLECTIONS_DIR's).
        api_key: required as `Authorization: Bearer KEY` on /v1 routes when set.
        ui: a gr.Blocks to serve at / (None: headless).
        auth: (user, password) for the UI.
        ui_options: passed to gr.mount_gradio_app (css, max_file_size, ...).
    """
    from .api import create_api

    app = create_api(collections, api_key)
    if ui is not None:
        import gradio as gr

        app = gr.mount_gradio_app(app, ui, path="/", auth=auth, **ui_options)
    return app


def run(app: Any, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve until interrupted."""
    import uvicorn

    print(f"qa: serving on http://{host}:{port}/ (API under /v1, docs at /docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
