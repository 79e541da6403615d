"""What the reconciler relies on in the emulator: decisions with no event, and deletions, as
seen through `GET /user/state` and `GET /user/report`."""

from __future__ import annotations

import httpx

from emulator import AliceEmulator
from tests.unit.emulator.conftest import backend_token, bearer, get_report


async def test_a_decision_with_no_event_shows_on_state_and_report(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """Accepting a user changes `/user/state` and the report's state; the report's events stay
    as they were (no event announces the decision)."""
    before = (await get_report(client, user_id)).json()["report"]
    token = await backend_token(client, user_id)
    assert (await client.get("/user/state", headers=bearer(token))).json() == "TO_REVIEW"
    emu.set_user_state(user_id, "ACCEPTED")
    assert (await client.get("/user/state", headers=bearer(token))).json() == "ACCEPTED"
    after = (await get_report(client, user_id)).json()["report"]
    assert after["summary"]["state"]["value"] == "ACCEPTED"
    assert after["events"] == before["events"]


async def test_a_deleted_user_is_404_on_state_and_report(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """After a deletion, both `/user/state` and `/user/report` answer 404 with a detail, also
    with a backend token issued before the deletion; the calls are counted per endpoint."""
    token = await backend_token(client, user_id)
    assert (await client.get("/user/state", headers=bearer(token))).status_code == 200
    emu.delete_user(user_id)
    emu.reset_counts()
    state = await client.get("/user/state", headers=bearer(token))
    report = await client.get("/user/report", headers=bearer(token))
    assert (state.status_code, state.json()) == (404, {"detail": "User not found"})
    assert (report.status_code, report.json()) == (404, {"detail": "User not found"})
    counts = emu.counts()
    assert (counts.status("user_state", 404), counts.status("user_report", 404)) == (1, 1)
