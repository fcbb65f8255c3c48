"""The card office's side of the operations API (operations-api.md), as the issuing
station uses it with a clerk's token. Every POST carries an Idempotency-Key derived
from what it does, so a retry after a lost answer gets the first answer back."""

from __future__ import annotations

from typing import Any

import requests

from terminals.station.pcsc import StationError

API = "/api/v1"
LIVE = ("active", "lost", "frozen")


class Office:
    def __init__(self, server_url: str, token: str, *, lang: str = "en",
                 timeout: float = 15) -> None:
        self.base = server_url.rstrip("/") + API
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": f"Token {token}",
            "Accept": "application/json",
            "Accept-Language": "zh-hans" if lang.startswith("zh") else "en",
        })
        self.timeout = timeout

    def _call(self, method: str, path: str, *, body: Any = None, key: str | None = None,
              params: dict[str, Any] | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        try:
            response = self.session.request(method, self.base + path, json=body,
                                            params=params, headers=headers,
                                            timeout=self.timeout)
        except requests.RequestException as exc:
            raise StationError("server_unreachable", detail=str(exc)) from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            error = (data or {}).get("error") if isinstance(data, dict) else None
            error = error if isinstance(error, dict) else {}
            raise StationError("server_refused", status=response.status_code,
                               error=error.get("code", f"http_{response.status_code}"),
                               message=error.get("message", response.text[:200]))
        return data

    # --- Reads ------------------------------------------------------------------------

    def card(self, card_no: str) -> dict[str, Any] | None:
        """The card, or None when the server has no such card."""
        try:
            return self._call("GET", f"/cards/{card_no}")
        except StationError as exc:
            if exc.values.get("status") == 404:
                return None
            raise

    def live_card_with_uid(self, uid: bytes) -> dict[str, Any] | None:
        """The card in use (active, lost or frozen) that carries this UID, if any."""
        page = self._call("GET", "/cards", params={"q": uid.hex(), "page_size": 100})
        for summary in page.get("results", []):
            if summary["uid"].lower() == uid.hex() and summary["status"] in LIVE:
                return self.card(summary["card_no"])
        return None

    def personalization(self, card_no: str) -> dict[str, Any]:
        return self._call("GET", f"/cards/{card_no}/personalization")

    # --- Card office actions ------------------------------------------------------------

    def card_issue(self, *, cardholder: str, uid: bytes, deposit: int,
                   deposit_method: str) -> dict[str, Any]:
        body = {"cardholder": cardholder, "uid": uid.hex(), "deposit": deposit,
                "deposit_method": deposit_method}
        key = f"station-issue:{cardholder}:{uid.hex()}:{deposit}:{deposit_method}"
        return self._call("POST", "/cards", body=body, key=key)

    def card_reading(self, card_no: str, *, purpose: str, card_seq: int, main: int,
                     subsidy: int, key_version: int) -> dict[str, Any]:
        body = {"purpose": purpose, "card_seq": card_seq, "main": main, "subsidy": subsidy,
                "key_version": key_version}
        return self._call("POST", f"/cards/{card_no}/readings", body=body)

    def card_replace(self, card_no: str, *, uid: bytes) -> dict[str, Any]:
        return self._call("POST", f"/cards/{card_no}/replace", body={"uid": uid.hex()},
                          key=f"station-replace:{card_no}:{uid.hex()}")

    def card_cancel(self, card_no: str, *, refund_method: str) -> dict[str, Any]:
        return self._call("POST", f"/cards/{card_no}/cancel",
                          body={"refund_method": refund_method},
                          key=f"station-cancel:{card_no}:{refund_method}")
