"""Renewing this VM's certificate before it expires, over the plugin's own mTLS channel.

When less than ``RENEW_FRACTION`` of the certificate's lifetime is left, the plugin makes a new key,
sends a CSR for it (VolumeService.RenewCertificate), writes the new bundle (each file replaced
atomically, one after the other: a crash between two renames can leave a certificate and a key that
do not match, which the plugin's start reports as a refused certificate) and reloads its channel.
The broker revokes the old certificate after its grace ([broker] renew_grace_s), so calls made
meanwhile on the old channel still work. A failed renewal is logged and retried with backoff; it is
never fatal while the old certificate is valid.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.bundle import Bundle, bundle_validity, read_bundle, write_bundle
from vdvs.plugin.csr import new_key_request

log = logging.getLogger("vdvs.plugin.renewal")
RENEW_FRACTION = 1 / 3  # renew when less than this part of the lifetime is left
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 300.0
MAX_SLEEP_S = 3600.0  # look again at least hourly (a clock jump, a bundle replaced by hand)


def renew_at(directory: Path, cert_pem: bytes) -> dt.datetime:
    """When a bundle's certificate is due for renewal: ``RENEW_FRACTION`` of its lifetime before it expires."""
    not_before, not_after = bundle_validity(directory, cert_pem)
    return not_after - (not_after - not_before) * RENEW_FRACTION


class CertRenewer:
    def __init__(self, client: BrokerClient, bundle_dir: Path, vm_name: str = "vm") -> None:
        self._client = client
        self._dir = bundle_dir
        self._name = vm_name
        self.renewed = 0  # renewals done by this process

    async def run(self) -> None:
        """Renew whenever due, until cancelled; never raises (a failure is logged and retried)."""
        retry_s = FIRST_RETRY_S
        while True:
            try:
                bundle = read_bundle(self._dir)
                wait_s = (renew_at(self._dir, bundle.cert_pem) - dt.datetime.now(dt.UTC)).total_seconds()
                if wait_s > 0:
                    await asyncio.sleep(min(wait_s, MAX_SLEEP_S))
                    continue
                await self.renew_once(bundle)
                retry_s = FIRST_RETRY_S
            except (BrokerError, OSError, ValueError) as exc:
                text = getattr(exc, "message", None) or str(exc)
                log.warning("certificate renewal failed (%s); retrying in %.0fs", text, retry_s)
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, MAX_RETRY_S)

    async def renew_once(self, bundle: Bundle) -> str:
        """One renewal: the new serial."""
        made = await asyncio.to_thread(new_key_request, self._name)
        reply = await self._client.renew_certificate(made.csr_pem.decode())
        fresh = Bundle(reply.ca_pem.encode(), reply.cert_pem.encode(), made.key_pem)
        await asyncio.to_thread(write_bundle, self._dir, fresh)
        await self._client.reload(fresh)
        self.renewed += 1
        log.info(
            "renewed this VM's certificate: %s valid until %s (the old one, %s, is revoked at %s)",
            reply.serial,
            reply.not_after,
            reply.old_serial,
            reply.old_revoked_at,
        )
        return str(reply.serial)
