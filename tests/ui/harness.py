"""A broker process serving the dashboard (``[ui] listen`` on a free port of 127.0.0.1) and AdminService on
TCP, with two vmgroups and their volumes; headless Chromium (Debian's, through chromium-driver) to look.

Chromium is told to accept the broker's certificate (``acceptInsecureCerts``): the broker's own CA is
not in its trust store. A browser signs in with a one-time link; a client certificate is presented by
an HTTP client (``get``), which the dashboard checks exactly as a browser's.
"""

from __future__ import annotations

import http.client
import shutil
import ssl
from pathlib import Path
from typing import Any

import pytest

from tests.delegation.harness import Denv
from vdvs.tenancy.store import SqliteStore

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGE_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0
REFUSED_CREATES = 2  # creates the fixture makes past web's count limit

needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMEDRIVER) is None or shutil.which(CHROMIUM) is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


class Uenv(Denv):
    def __init__(self, root: Path, **settings: Any) -> None:
        super().__init__(root, ui_listen="127.0.0.1:0", **settings)
        self.ui_address = ""

    def start(self, *args: str, env: dict[str, str] | None = None) -> None:
        super().start(*args, env=env)
        self.ui_address = self.status()["UiListen"]

    def url(self, path: str = "/ui") -> str:
        return f"https://{self.ui_address}{path}"

    def link(self, *args: str) -> str:
        """`vdvs ui link` as root (``--admin NAME`` to sign in as that admin)."""
        return str(self.js("ui", "link", *args)["url"])

    def add_samples(self, group: str, days: dict[str, int]) -> None:
        """Past days' usage samples of a vmgroup on local1 (day -> provisioned MB), as the sweep files them."""
        store = SqliteStore(self.config.store_path)
        try:
            url = self.datastore_dir("local1").as_uri()
            with store.transaction() as db:
                for day, mb in days.items():
                    db.execute(
                        "INSERT INTO usage_samples (day, vmgroup_id, datastore_url, provisioned_mb, allocated_bytes, "
                        "volumes) VALUES (?, ?, ?, ?, 0, 1)",
                        (day, self.group_id(group), url, mb),
                    )
        finally:
            store.close()

    def get(self, path: str, bundle: Path | None = None, cookie: str = "") -> tuple[int, str, dict[str, str]]:
        """GET a dashboard page over HTTPS (the broker's CA verifies the server), presenting ``bundle``'s
        admin certificate if given: (status, body, headers)."""
        context = ssl.create_default_context(cafile=str(self.config.pki_dir / "ca.pem"))
        if bundle is not None:
            context.load_cert_chain(bundle / "admin.pem", bundle / "admin.key")
        host, port = self.ui_address.rsplit(":", 1)
        conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=HTTP_TIMEOUT_S)
        try:
            conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            response = conn.getresponse()
            return response.status, response.read().decode(), {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()


def chromium() -> Any:
    """A fresh headless Chromium (no cookies), bounded page loads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.accept_insecure_certs = True
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    driver.set_script_timeout(PAGE_TIMEOUT_S)
    return driver
