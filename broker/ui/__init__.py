"""The web dashboard (``[ui] listen``): read-mostly pages of vmgroups, their usage and events, served over
HTTPS with the broker's certificate to admins signed in by certificate or by a one-time link."""
