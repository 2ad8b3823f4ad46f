"""The local web UI and JSON API (layer 4, beside the control socket): docs/web.md.

``pnyx.web.app.build_app`` makes the Starlette app over a ``pnyx.web.context.WebContext``;
``pnyx.web.serve.serve_web`` serves it with Hypercorn's trio worker inside the node's nursery.
"""
