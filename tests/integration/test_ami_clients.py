"""Real AMI client libraries from PyPI log in (plain and MD5), ping and log off."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

from asterisk.ami import AMIClient, SimpleAction
from asterisk.manager import Manager as Pyst2Manager
from asterisk.manager import ManagerSocketException
from panoramisk import Manager as PanoramiskManager

from tests.integration.conftest import StartService


async def _panoramisk_plain(port: int) -> list[Any]:
    manager = PanoramiskManager(
        host="127.0.0.1", port=port, username="admin", secret="s3cret", ping_delay=60
    )
    booted: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    manager.register_event("FullyBooted", lambda _m, event: booted.set_result(event))
    await manager.connect()
    try:
        event = await asyncio.wait_for(booted, 5)
        pong = await asyncio.wait_for(manager.send_action({"Action": "Ping"}), 5)
        bye = await asyncio.wait_for(manager.send_action({"Action": "Logoff"}), 5)
        return [manager.authenticated, event, pong, bye]
    finally:
        manager.close()


def test_panoramisk_plain_login_ping_logoff(start_service: StartService) -> None:
    service = start_service()
    authenticated, event, pong, bye = asyncio.run(_panoramisk_plain(service.port))
    assert authenticated
    assert event.Status == "Fully Booted"
    assert event.Privilege == "system,all"
    assert pong.Response == "Success"
    assert pong.Ping == "Pong"
    assert pong.ActionID.startswith("action/")
    assert bye.Response == "Goodbye"
    assert bye.Message == "Thanks for all the fish."


async def _panoramisk_md5(port: int, secret: str) -> list[Any]:
    """Challenge, then Login with md5(challenge + secret); a Ping only if that worked."""
    manager = PanoramiskManager(host="127.0.0.1", port=port, ping_delay=60)
    await manager.connect()
    try:
        challenge = await asyncio.wait_for(
            manager.send_action({"Action": "Challenge", "AuthType": "MD5"}), 5
        )
        key = hashlib.md5((challenge.Challenge + secret).encode()).hexdigest()
        login = await asyncio.wait_for(
            manager.send_action(
                {"Action": "Login", "AuthType": "MD5", "Username": "admin", "Key": key}
            ),
            5,
        )
        pong = None
        if login.Response == "Success":
            pong = await asyncio.wait_for(manager.send_action({"Action": "Ping"}), 5)
        return [challenge, login, pong]
    finally:
        manager.close()


def test_panoramisk_md5_login(start_service: StartService) -> None:
    service = start_service()
    challenge, login, pong = asyncio.run(_panoramisk_md5(service.port, "s3cret"))
    assert challenge.Response == "Success"
    assert challenge.Challenge.isdigit()
    assert login.Message == "Authentication accepted"
    assert pong.Ping == "Pong"


def test_panoramisk_md5_with_wrong_secret_fails(start_service: StartService) -> None:
    service = start_service()
    _, login, pong = asyncio.run(_panoramisk_md5(service.port, "wrong"))
    assert login.Response == "Error"
    assert login.Message == "Authentication failed"
    assert pong is None


def test_asterisk_ami_login_ping_logoff(start_service: StartService) -> None:
    service = start_service()
    client = AMIClient(address="127.0.0.1", port=service.port, timeout=5)
    try:
        login = client.login(username="admin", secret="s3cret").response
        assert login.status == "Success"
        assert login.keys["Message"] == "Authentication accepted"
        pong = client.send_action(SimpleAction("Ping")).response
        assert pong.status == "Success"
        assert pong.keys["Ping"] == "Pong"
        assert pong.keys["ActionID"] == "1"
        bye = client.logoff().response
        assert bye.status == "Goodbye"
    finally:
        client.disconnect()


def test_asterisk_ami_wrong_secret(start_service: StartService) -> None:
    service = start_service()
    client = AMIClient(address="127.0.0.1", port=service.port, timeout=5)
    try:
        login = client.login(username="admin", secret="nope").response
        assert login.status == "Error"
        assert login.keys["Message"] == "Authentication failed"
    finally:
        client.disconnect()


def test_pyst2_login_ping_logoff(start_service: StartService) -> None:
    service = start_service()
    manager = Pyst2Manager()
    manager.connect("127.0.0.1", service.port)
    try:
        assert manager.title == "Asterisk Call Manager"
        assert manager.version == "12.0.0"
        login = manager.login("admin", "s3cret")
        assert login.get_header("Message") == "Authentication accepted"
        pong = manager.ping()
        assert pong.get_header("Ping") == "Pong"
        bye = manager.logoff()
        assert bye.get_header("Response") == "Goodbye"
    finally:
        # pyst2's close() logs off again; after Goodbye the server has closed, as Asterisk does.
        with contextlib.suppress(ManagerSocketException, ValueError):
            manager.close()
        manager._running.clear()  # its __del__ would otherwise try once more at exit
