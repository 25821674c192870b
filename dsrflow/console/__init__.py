"""The privacy team's console and the data subjects' privacy center: server-rendered HTML.

Both sit on the same FastAPI app as the HTTP API (``Runtime.api_app`` installs them) and act
only through the application layer (``dsrflow.service``): the same rules and the same audit
trail as the API and the CLI. Layout:

- ``web``: ``install`` — templates, static assets (served locally; no CDN), routers.
- ``session``: who is signed in (the console's ``Principal``), CSRF for every form.
- ``signin``: sign-in and sign-out pages (password and OIDC).
- ``pages``: the staff pages (inbox, request, tasks, downloads, dashboard).
- ``privacy``: the public privacy center (intake form, e-mail verification link, status page).
"""
