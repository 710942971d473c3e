"""What the supervisor binds for a configuration, and which configurations it refuses."""

from __future__ import annotations

from pathlib import Path

from sipnotify.config.load import Config, load_config
from sipnotify.workers.sockets import Kind, Listen
from sipnotify.workers.supervisor import listens, refusal

PJSIP = (
    "[u]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:5062\n"
    "[t]\ntype=transport\nprotocol=tls\nbind=0.0.0.0:5063\ncert_file=x\npriv_key_file=y\n"
)
MANAGER = "[general]\nenabled = yes\nport = 5039\nbindaddr = 127.0.0.1\n"
HTTP = "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 8090\n"
CLUSTER = {
    "sorcery.conf": "[res_pjsip]\ncontact = realtime,ps_contacts\n",
    "extconfig.conf": "[settings]\nps_contacts => pgsql,general\n"
    "sipnotify_mailboxes => pgsql,general\nsipnotify_jobs => pgsql,general\n",
    "res_pgsql.conf": "[general]\ndbhost = 127.0.0.1\ndbname = x\ndbuser = x\n",
}


def config(folder: Path, files: dict[str, str]) -> Config:
    folder.mkdir()
    for name, text in {"sipnotify.conf": "[general]\nworkers = 2\n", **files}.items():
        (folder / name).write_text(text)
    return load_config(folder)


def test_every_transport_ami_and_http_are_bound_for_the_workers(tmp_path: Path) -> None:
    found = config(tmp_path / "c", {"pjsip.conf": PJSIP, "manager.conf": MANAGER,
                                    "http.conf": HTTP})  # fmt: skip
    assert listens(found, None) == [
        Listen(Kind.UDP, "127.0.0.1", 5062),
        Listen(Kind.STREAM, "0.0.0.0", 5063),
        Listen(Kind.AMI, "127.0.0.1", 5039),
        Listen(Kind.HTTP, "127.0.0.1", 8090),
    ]
    assert listens(found, 6000)[2] == Listen(Kind.AMI, "127.0.0.1", 6000)  # --ami-port


def test_several_workers_need_their_shared_state_in_postgresql_and_a_systemname(
    tmp_path: Path,
) -> None:
    embedded = config(tmp_path / "a", {})
    assert refusal(embedded) == (
        "workers = 2 needs ps_contacts, sipnotify_mailboxes, sipnotify_jobs in PostgreSQL "
        "(sorcery.conf, extconfig.conf; see docs/workers.md), where the workers share them: "
        "with the embedded store, run one worker"
    )
    no_jobs = config(
        tmp_path / "d",
        {
            **CLUSTER,
            "extconfig.conf": CLUSTER["extconfig.conf"].replace(
                "sipnotify_jobs => pgsql,general\n", ""
            ),
        },
    )
    assert refusal(no_jobs).startswith("workers = 2 needs sipnotify_jobs in PostgreSQL ")
    unnamed = config(tmp_path / "b", CLUSTER)
    assert refusal(unnamed) == (
        "workers needs asterisk.conf [options] systemname (each worker is <systemname>-<n>)"
    )
    named = config(tmp_path / "c", {**CLUSTER, "asterisk.conf": "[options]\nsystemname = pbx\n"})
    assert refusal(named) == ""
